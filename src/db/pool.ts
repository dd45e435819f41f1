import pg from 'pg';
import { noClock, type StageClock } from '../observability/stages.js';
import { connectionOptions, type DatabaseSettings } from './connection.js';

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
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Runs `work` in one transaction on one client; rolls back on any error. `clock` times getting a
 * connection plus BEGIN ('begin') and COMMIT ('commit').
 */
export async function inTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  clock: StageClock = noClock,
): Promise<T> {
  const client = await clock.time('begin', () => pool.connect());
  let broken = false;
  try {
    await clock.time('begin', () => client.query('BEGIN'));
    const result = await work(client);
    await clock.time('commit', () => client.query('COMMIT'));
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
