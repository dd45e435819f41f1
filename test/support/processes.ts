/** Runs the built `projector` binary as a real process, capturing its JSON logs. */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './oracle.js';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

/**
 * Keeps a copy of a process's output in TEST_LOG_DIR, which globalTeardown scans for passwords
 * (no log line may carry a secret). Returns the listener to attach to stdout and stderr.
 */
function logCopy(child: ChildProcess, args: readonly string[]): (chunk: Buffer) => void {
  const dir = process.env['TEST_LOG_DIR'];
  if (!dir) return () => undefined;
  const file = path.join(dir, `${args[0] ?? 'projector'}-${child.pid ?? 'x'}.log`);
  return (chunk) => appendFileSync(file, chunk);
}

/** Adds secrets a test used to the ones globalTeardown looks for in every process's output. */
export function registerSecrets(...secrets: string[]): void {
  const dir = process.env['TEST_LOG_DIR'];
  if (dir) appendFileSync(path.join(dir, 'secrets'), secrets.map((s) => `${s}\n`).join(''));
}

export interface ProjectorProcess {
  readonly child: ChildProcess;
  readonly logs: () => string;
  readonly exited: Promise<number | null>;
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** A field of the first JSON log line whose msg is `msg`. */
  logField(msg: string, field: string): unknown;
}

/** Which build to run: this checkout's (default), or another release's (a rolling upgrade). */
export interface ProjectorBuild {
  readonly cli?: string;
}

export function startProjector(
  args: string[],
  env: Record<string, string>,
  build: ProjectorBuild = {},
): ProjectorProcess {
  const child = spawn(process.execPath, [build.cli ?? CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const copy = logCopy(child, args);
  child.stdout.on('data', (d: Buffer) => ((output += d.toString()), copy(d)));
  child.stderr.on('data', (d: Buffer) => ((output += d.toString()), copy(d)));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    logs: () => output,
    exited,
    waitForLog: (text, timeoutMs = 30_000) =>
      waitFor(`log "${text}"`, () => output.includes(text), timeoutMs),
    logField(msg, field) {
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['msg'] === msg) return parsed[field];
      }
      return undefined;
    },
  };
}

export interface ProjectorRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs one `projector` command to completion (stdin from `stdin`, empty by default). */
export function runProjector(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
  build: ProjectorBuild = {},
): Promise<ProjectorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [build.cli ?? CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const copy = logCopy(child, args);
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), copy(d)));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), copy(d)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}
