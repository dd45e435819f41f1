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
 * Citus reports a worker node lost under a statement as an internal error (XX000) or, for rows it
 * was copying there, an I/O error (58030), raised from its remote-connection code: "failure on
 * connection marked as essential: host:port", "SSL SYSCALL error: EOF detected" while executing a
 * command on a node, "failed to COPY to shard … on host:port". Errors a node itself raised keep
 * their own SQLSTATE when Citus relays them, so these codes from these files mean the connection,
 * not the statement: the node comes back (or its placement moves) and the statement, retried,
 * runs on a new connection.
 */
const CITUS_NODE_LOST_CODES = new Set(['XX000', '58030']);
const CITUS_REMOTE_FILES = new Set([
  'remote_commands.c',
  'remote_transaction.c',
  'connection_management.c',
  'placement_connection.c',
  'multi_copy.c',
  'adaptive_executor.c',
]);
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
    file?: unknown;
  };
  if (
    typeof e.code === 'string' &&
    CITUS_NODE_LOST_CODES.has(e.code) &&
    typeof e.file === 'string' &&
    CITUS_REMOTE_FILES.has(e.file)
  ) {
    return 'retryable';
  }
  if (typeof e.code === 'string') {
    if (MISCONFIGURED_SQLSTATE.test(e.code) || TLS_VERIFY_CODES.has(e.code)) return 'fatal';
    if (RETRYABLE_SQLSTATE.test(e.code) || RETRYABLE_NODE_CODES.has(e.code)) return 'retryable';
    if (BAD_INPUT_SQLSTATE.test(e.code)) return 'bad_input';
  }
  // kafkajs marks its own errors. Its "retries exceeded", and the non-retriable error it wraps a
  // connection failure in once its own (short) attempts are spent, say only that kafkajs stopped:
  // the cause they wrap says whether waiting longer, within our bound, can heal it.
  if (e.name === 'KafkaJSSASLAuthenticationError') return 'fatal';
  const cause = (error as { cause?: unknown }).cause;
  if ((e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSNonRetriableError') && cause)
    return classifyError(cause);
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
function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
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
