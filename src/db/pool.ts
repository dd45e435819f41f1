import type { Writable } from 'node:stream';
import pg from 'pg';
import { noClock, type StageClock } from '../observability/stages.js';
import { tracingEnabled } from '../observability/tracing.js';
import { connectionOptions, type DatabaseSettings } from './connection.js';
import { onNewConnection } from './platform.js';
import { traceStatements } from './tracedStatements.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = pg.Pool | pg.PoolClient;

// BIGINT (int8) columns hold tenant ids, offsets and millisecond timestamps, all below 2^53;
// read them as numbers. NUMERIC (money) keeps pg's default: an exact string.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new RangeError(`bigint ${value} exceeds 2^53`);
  return parsed;
});

export function createPool(
  config: DatabaseSettings & { readonly dbPoolMax: number },
  applicationName: string,
): Pool {
  const pool = new pg.Pool({
    ...connectionOptions(config),
    // Queries issued without waiting go out together (node-postgres pipelining): a flush's whole
    // transaction is one round trip (inPipelinedTransaction). Code that awaits each query is
    // unaffected. COPY streams are refused on such connections: see standaloneClient.
    pipeline: true,
    max: config.dbPoolMax,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // A client that loses its connection (server restart, pg_terminate_backend) emits 'error': on the
  // pool when idle, on the client itself when checked out. Without listeners either crashes the
  // process (found by the fault suite); with them, the next query on that client fails instead,
  // and the caller's retry policy takes over.
  pool.on('error', () => undefined);
  if (tracingEnabled()) traceStatements(pool, pool.options.database);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    if (tracingEnabled()) traceStatements(client, pool.options.database);
    onNewConnection(pool, client);
  });
  return pool;
}

/**
 * Runs `work` on a checked-out client and gives it back. On failure, rolls back whatever
 * transaction the client still has open; a client that cannot is discarded.
 */
async function onClient<T>(client: PoolClient, work: () => Promise<T>): Promise<T> {
  let broken = false;
  try {
    return await work();
  } catch (error) {
    if (client.getTransactionStatus() !== 'I') {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Runs `work` in one transaction on one client; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  return onClient(client, async () => {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  });
}

/**
 * One transaction in one round trip: BEGIN, the statements `send` issues, and COMMIT are all written
 * before any answer is read. `send` must issue its queries synchronously — call `client.query`
 * (or an async function that does so before its first await) and return the promises.
 *
 * Each statement has its own result or error. After a failure the server answers the statements
 * behind it with "current transaction is aborted" and the COMMIT with ROLLBACK, so nothing is
 * half-applied; the first failure is the one thrown. `clock` times getting a connection
 * ('connect') and the round trip ('transaction').
 */
export async function inPipelinedTransaction<T extends readonly unknown[]>(
  pool: Pool,
  send: (client: PoolClient) => { readonly [K in keyof T]: Promise<T[K]> },
  clock: StageClock = noClock,
): Promise<T> {
  const [, rest] = await pipelinedTransaction<undefined, T>(pool, undefined, (client) => send(client), clock);
  return rest;
}

/**
 * The same for a transaction whose first write must be answered before the rest can be sent (a
 * write that sends more once it sees what was accepted): BEGIN and `first` in one round trip, then,
 * once `first` has resolved, `send`'s statements (given `first`'s answer) and COMMIT in the next.
 */
export async function inTwoStepTransaction<F, T extends readonly unknown[]>(
  pool: Pool,
  first: (client: PoolClient) => Promise<F>,
  send: (client: PoolClient, answer: F) => { readonly [K in keyof T]: Promise<T[K]> },
  clock: StageClock = noClock,
): Promise<[F, T]> {
  const [answer, rest] = await pipelinedTransaction<F, T>(pool, first, send, clock);
  return [answer as F, rest];
}

async function pipelinedTransaction<F, T extends readonly unknown[]>(
  pool: Pool,
  first: ((client: PoolClient) => Promise<F>) | undefined,
  send: (client: PoolClient, answer: F) => { readonly [K in keyof T]: Promise<T[K]> },
  clock: StageClock,
): Promise<[F | undefined, T]> {
  const client = await clock.time('connect', () => pool.connect());
  // A failed transaction is already over (its COMMIT was answered ROLLBACK); onClient rolls back
  // only one that may still be open.
  return onClient(client, () =>
    clock.time('transaction', async () => {
      // Corked, each step leaves in one write: node-postgres writes each simple query (BEGIN,
      // COMMIT) on its own, and every write on loopback wakes the server once (a profile of the
      // worker put a fifth of its CPU time in socket writes).
      const socket = (client as pg.PoolClient & { connection?: { stream?: Writable } }).connection?.stream;
      let answer: F | undefined;
      let begun = false;
      if (first) {
        socket?.cork();
        const begin = client.query('BEGIN');
        const written = first(client);
        socket?.uncork();
        begun = true;
        const [, value] = await settle([begin, written]);
        answer = value as F;
      }
      socket?.cork();
      let sent: Array<Promise<unknown>>;
      const begin = begun ? undefined : client.query('BEGIN');
      try {
        sent = [...(begin ? [begin] : []), ...send(client, answer as F), client.query('COMMIT')];
      } catch (error) {
        // No COMMIT behind whatever was sent: onClient rolls it back.
        socket?.uncork();
        if (begin) await Promise.allSettled([begin]);
        throw error;
      }
      socket?.uncork();
      const settled = await settle(sent);
      const commit = settled.at(-1) as pg.QueryResult;
      if (commit.command !== 'COMMIT') throw new Error(`COMMIT was answered ${commit.command}`);
      return [answer, settled.slice(begin ? 1 : 0, -1) as unknown as T];
    }),
  );
}

/** Every answer, once all have come; the first failure if any failed. */
async function settle(sent: ReadonlyArray<Promise<unknown>>): Promise<unknown[]> {
  const settled = await Promise.allSettled(sent);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
}

/**
 * A connection of its own, outside the pool and not pipelined: node-postgres refuses COPY streams
 * on a pipelined connection. The caller ends it.
 */
export async function standaloneClient(pool: Pool): Promise<pg.Client> {
  const client = new pg.Client({ ...pool.options, pipeline: false });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
