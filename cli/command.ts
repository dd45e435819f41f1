import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: printed as one line, exit code 2, nothing written. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: OptionSpec;
  readonly allowPositionals?: boolean;
  /** A one-shot command, traced as one span when traces are on (the worker traces its flushes). */
  readonly traced?: boolean;
  run(values: Values, positionals: string[]): Promise<number | void>;
}

/**
 * A string option followed by a value that starts with "-" (`--events -5`) is ambiguous to
 * node:util; take it as that option's value (`--events=-5`), so the option's own check can name
 * the value ("--events "-5" is not a whole number") instead of a generic complaint.
 */
function attachDashValues(options: OptionSpec, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-[^-]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function parse(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: attachDashValues(command.options, argv),
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    // node:util messages are multi-line and mention internals; keep the first sentence.
    const message =
      (error as Error).message.split('\n')[0]?.replace(/\. To specify.*$/, '') ?? 'bad arguments';
    throw new UsageError(message);
  }
}

export function intOption(values: Values, name: string, fallback: number, min: number, max: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new UsageError(`--${name} "${String(value)}" is not a whole number`);
  const parsed = Number(value);
  if (parsed < min || parsed > max)
    throw new UsageError(`--${name} ${value} is out of range (${min}..${max})`);
  return parsed;
}

export function fractionOption(values: Values, name: string, fallback: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^(0(\.\d+)?|1(\.0+)?)$/.test(value)) {
    throw new UsageError(`--${name} "${String(value)}" is not a fraction between 0 and 1`);
  }
  return Number(value);
}

/**
 * `--tenant N`, repeatable (`--tenant 7 --tenant 12`, or `--tenant 7,12`): the tenant ids, each a
 * whole number from 1, in the order given without repeats; undefined where not given.
 */
export function tenantsOption(values: Values): number[] | undefined {
  const given = values['tenant'];
  if (given === undefined) return undefined;
  const parts = (Array.isArray(given) ? given : [String(given)]).flatMap((v) => v.split(','));
  const tenants = parts.map((part) =>
    intOption({ tenant: part.trim() }, 'tenant', 0, 1, Number.MAX_SAFE_INTEGER),
  );
  return [...new Set(tenants)];
}

/** The scope --tenant gives a command: its tenants, or every tenant. */
export function tenantScope(tenants: readonly number[] | undefined): { tenantIds?: readonly number[] } {
  return tenants ? { tenantIds: tenants } : {};
}

export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} needs a value`);
  return value;
}
