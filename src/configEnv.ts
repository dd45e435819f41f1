/**
 * Readers for environment variables, shared by the config modules. Every error names the variable
 * and its value, except secrets: those errors name the variable (or its file) and never the value.
 */
import { readFileSync } from 'node:fs';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The trimmed value, or undefined when unset or blank. */
export function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} "${value}" is not a boolean (true/false)`);
}

/** One of `choices`, compared case-insensitively. */
export function oneOf<T extends string>(env: Env, name: string, choices: readonly T[]): T | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (!(choices as readonly string[]).includes(lower)) {
    throw new ConfigError(`${name} "${value}" is not one of ${choices.join(', ')}`);
  }
  return lower as T;
}

/**
 * A value that may be given inline (`NAME`) or as a mounted file (`NAME_FILE`, as Kubernetes
 * mounts Secrets). Setting both is an error; a file's trailing newline is not part of the value.
 * Errors name the variable or the file path, never the content.
 */
export function valueOrFile(env: Env, name: string): string | undefined {
  const inline = env[name] === undefined || env[name] === '' ? undefined : env[name];
  const path = raw(env, `${name}_FILE`);
  if (inline !== undefined && path !== undefined) {
    throw new ConfigError(`${name} and ${name}_FILE are both set; set only one`);
  }
  if (path === undefined) return inline;
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${name}_FILE "${path}" cannot be read (${code})`);
  }
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`${name}_FILE "${path}" is empty`);
  return value;
}

/** A PEM value (inline or from a file) that must contain `label` blocks, e.g. CERTIFICATE. */
export function pem(env: Env, name: string, label: RegExp, what: string): string | undefined {
  const value = valueOrFile(env, name);
  if (value === undefined) return undefined;
  if (!label.test(value)) {
    const where = raw(env, `${name}_FILE`) ? `${name}_FILE "${raw(env, `${name}_FILE`)}"` : name;
    throw new ConfigError(`${where} does not hold a PEM ${what}`);
  }
  return value;
}
