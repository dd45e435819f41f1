/**
 * Every error is classified once: retry it (the database or broker will come back), dead-letter it
 * (this one message is bad), or fail loudly (a bug or a misconfiguration). Retries are bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TLS_VERIFY_CODES } from './security/connectionErrors.js';

export type ErrorKind = 'retryable' | 'bad_input' | 'fatal';

const RETRYABLE_SQLSTATE = /^(40001|40P01|08...|57P01|57P02|57P03|53300)$/;
const BAD_INPUT_SQLSTATE = /^(22...|23...)$/;
// Wrong credentials, privileges and certificates do not heal by waiting: fail at once, loudly.
const MISCONFIGURED_SQLSTATE = /^(28...|42501)$/;
/**
 * Citus relays a worker node's lost connection as an internal error (XX000) "while executing command
 * on host:port": after a node restarts, the coordinator's cached connections to it fail once like
 * this. The node is back; the statement, retried, runs on a new connection.
 */
const CITUS_REMOTE_CONNECTION_LOST =
  /SSL SYSCALL error|server closed the connection unexpectedly|connection not open|could not receive data|terminating connection|EOF detected/i;
const RETRYABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

export function classifyError(error: unknown): ErrorKind {
  if (typeof error !== 'object' || error === null) return 'fatal';
  const e = error as {
    code?: unknown;
    retriable?: unknown;
    message?: unknown;
    name?: unknown;
    where?: unknown;
  };
  if (
    e.code === 'XX000' &&
    typeof e.where === 'string' &&
    e.where.startsWith('while executing command on') &&
    typeof e.message === 'string' &&
    CITUS_REMOTE_CONNECTION_LOST.test(e.message)
  ) {
    return 'retryable';
  }
  // Citus copying rows to a worker node that went away (user_exposure's INSERT … SELECT goes through
  // the coordinator by COPY): the node's I/O, not ours; it comes back.
  if (
    e.code === '58030' &&
    typeof e.message === 'string' &&
    /^failed to COPY to shard \d+ on /.test(e.message)
  ) {
    return 'retryable';
  }
  if (typeof e.code === 'string') {
    if (MISCONFIGURED_SQLSTATE.test(e.code) || TLS_VERIFY_CODES.has(e.code)) return 'fatal';
    if (RETRYABLE_SQLSTATE.test(e.code) || RETRYABLE_NODE_CODES.has(e.code)) return 'retryable';
    if (BAD_INPUT_SQLSTATE.test(e.code)) return 'bad_input';
  }
  // kafkajs marks its own errors.
  if (e.name === 'KafkaJSSASLAuthenticationError') return 'fatal';
  if (e.retriable === true) return 'retryable';
  if (e.name === 'ValidationError') return 'bad_input';
  // pg reports a dropped socket with a plain Error.
  if (
    typeof e.message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message)
  ) {
    return 'retryable';
  }
  return 'fatal';
}

export interface RetryPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly maxAttempts: number;
}

/** Exponential backoff with full jitter, capped; the delay before attempt n (n ≥ 1). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Runs `work` until it succeeds, retrying retryable errors with backoff up to the policy's bound. */
export async function withRetry<T>(
  policy: RetryPolicy,
  work: (attempt: number) => Promise<T>,
  options: {
    signal?: AbortSignal;
    onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (classifyError(error) !== 'retryable' || attempt >= policy.maxAttempts || options.signal?.aborted) {
        throw error;
      }
      const delay = backoffMs(policy, attempt);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}
