#!/usr/bin/env node
/**
 * `projector <command>`: one binary for every job. Bad input exits 2 with one line naming the
 * option or variable and its value; a runtime failure exits 1 with one line.
 */
import { ConfigError, tracingSettings } from '../src/config.js';
import { contextFromHeaders, inSpan } from '../src/observability/tracing.js';
import { startTracing } from '../src/observability/tracingSdk.js';
import { ValidationError } from '../src/events/validate.js';
import { explainConnectionError } from '../src/security/connectionErrors.js';
import { ConcurrencyConflictError } from '../src/store/batch.js';
import { parse, UsageError, type Command } from './command.js';
import { routeProcessWarnings } from './processWarnings.js';
import { packageVersion } from './version.js';
import { appendCommand } from './commands/append.js';
import { demoCommand } from './commands/demo.js';
import { dlqCommand } from './commands/dlq.js';
import { lagCommand } from './commands/lag.js';
import { repairCommand } from './commands/repair.js';
import { verifyCommand } from './commands/verify.js';
import { migrateCommand } from './commands/migrate.js';
import { rebuildCommand } from './commands/rebuild.js';
import { simulateCommand } from './commands/simulate.js';
import { workerCommand } from './commands/worker.js';

const COMMANDS: readonly Command[] = [
  migrateCommand,
  workerCommand,
  appendCommand,
  simulateCommand,
  rebuildCommand,
  lagCommand,
  repairCommand,
  verifyCommand,
  dlqCommand,
  demoCommand,
];

/**
 * The bench is not part of the product: it lives in bench/ beside it, is built in a checkout
 * (`npm run bench`) and is left out of the image. Loaded only when asked for.
 */
const BENCH = {
  name: 'bench',
  summary: 'measure the pipeline (in a checkout: npm run bench; not in the image)',
};

const BENCH_MODULE = '../bench/command.js';

async function benchCommand(): Promise<Command | string> {
  try {
    // A specifier in a variable: the image's build has no bench/ for the compiler to resolve.
    const module = (await import(BENCH_MODULE)) as { benchCommand: Command };
    return module.benchCommand;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return 'the bench is not part of this build (the image ships the product only): run `npm run bench` in a checkout';
  }
}

function overview(): string {
  const width = Math.max(...[...COMMANDS, BENCH].map((c) => c.name.length));
  return [
    'usage: projector <command> [options]   (projector <command> --help for its options)',
    '',
    ...[...COMMANDS, BENCH].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from environment variables; see docs/configuration.md. projector --version prints the version.',
  ].join('\n');
}

/**
 * Runs a command with traces on when the OTEL_* variables ask for them. A one-shot command is one
 * span, continuing the trace of TRACEPARENT/TRACESTATE when the caller passes one; a long-running
 * one (the worker, simulate) traces its own units of work instead. Spans are exported before exit.
 */
async function traced(command: Command, run: () => Promise<number | void>): Promise<number> {
  const tracing = startTracing(tracingSettings(process.env), packageVersion());
  try {
    if (!command.traced) return (await run()) ?? 0;
    const parent = contextFromHeaders({
      traceparent: process.env['TRACEPARENT'],
      tracestate: process.env['TRACESTATE'],
    });
    return await inSpan(`projector ${command.name}`, { parent }, async (span) => {
      const code = (await run()) ?? 0;
      span.setAttribute('process.exit.code', code);
      return code;
    });
  } finally {
    await tracing.shutdown();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`bet-projector ${packageVersion()} (node ${process.version})\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${overview()}\n`);
    return name === undefined ? 2 : 0;
  }
  const found = name === BENCH.name ? await benchCommand() : COMMANDS.find((c) => c.name === name);
  if (typeof found === 'string') {
    process.stderr.write(`projector bench: ${found}\n`);
    return 2;
  }
  const command = found;
  if (!command) {
    process.stderr.write(`projector: unknown command "${name}" (try projector --help)\n`);
    return 2;
  }
  try {
    const { values, positionals } = parse(command, rest);
    if (values['help']) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    return await traced(command, () => command.run(values, positionals));
  } catch (error) {
    // A connection that fails mid-run for a setting's sake is still explained by the setting's name.
    const advice = explainConnectionError(error, 'database') ?? explainConnectionError(error, 'kafka');
    const badInput =
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof ValidationError ||
      advice !== undefined;
    const message = advice ?? (error instanceof Error ? error.message : String(error));
    process.stderr.write(`projector ${command.name}: ${message.split('\n')[0]}\n`);
    if (!badInput && !(error instanceof ConcurrencyConflictError) && process.env['LOG_LEVEL'] === 'debug') {
      process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    }
    return badInput ? 2 : 1;
  }
}

/**
 * A finished command has closed everything it opened, so the process normally ends by itself.
 * kafkajs can leave a socket open after a broker restart (seen by the fault suite: a metadata
 * connection made while reconnecting survives consumer.disconnect()); a pod must not then hang
 * until Kubernetes kills it. So: exit with the command's code if the loop has not drained soon
 * after. stdout and stderr writes are synchronous on Linux pipes and files, so nothing is lost.
 */
const LINGER_MS = 2_000;
function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_MS).unref();
}

routeProcessWarnings();
main(process.argv.slice(2)).then(finish, (error: unknown) => {
  process.stderr.write(`projector: ${(error as Error).message}\n`);
  finish(1);
});
