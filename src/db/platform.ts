/**
 * Which platform a pool's database is: plain PostgreSQL, or a Citus coordinator. Some runtime
 * statements have two forms of one meaning (a multi-row VALUES list Citus routes to the shards,
 * where PostgreSQL takes one unnest()), chosen from
 * what the database reports once at start (`detectPlatform`, run by every command's connection
 * check) and read synchronously after that, also inside a pipelined transaction.
 */
import type pg from 'pg';

import type { Platform } from '../config.js';

export type { Platform };

/**
 * Session settings of every connection to a Citus coordinator. One connection per worker node for
 * a statement's shard tasks (Citus's default opens up to 16, and with one cached per node closes
 * the rest at the end of each transaction): the projector's concurrency is its own — a flush per
 * partition, a producer per request — and more connections per node only queue on the node's cores
 * (docs/citus.md). The rebuild's fill, one statement over
 * every shard, restores Citus's default for its own transactions (ALL_SHARDS_IN_PARALLEL).
 */
const CITUS_SESSION_SETTINGS = 'SET citus.max_adaptive_executor_pool_size = 1';

const detected = new WeakMap<pg.Pool, Platform>();
/** A checked-out client's pool: set by createPool for every connection it opens. */
const poolOfClient = new WeakMap<pg.ClientBase, pg.Pool>();

/**
 * For createPool, on each new connection (before anything else is sent on it): remembers its pool
 * and, where the platform is known to be Citus, queues the session settings.
 */
export function onNewConnection(pool: pg.Pool, client: pg.ClientBase): void {
  poolOfClient.set(client, pool);
  if (detected.get(pool) === 'citus') client.query(CITUS_SESSION_SETTINGS).catch(() => undefined);
}

/** Whether the citus extension is installed in the database `db` is connected to. */
export async function hasCitusExtension(db: pg.Pool | pg.ClientBase): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  return (rowCount ?? 0) > 0;
}

/** Asks the database (citus extension installed in it or not) and remembers the answer for `pool`. */
export async function detectPlatform(pool: pg.Pool): Promise<Platform> {
  const client = await pool.connect();
  try {
    const platform: Platform = (await hasCitusExtension(client)) ? 'citus' : 'postgres';
    // This connection was opened before the answer: it gets the settings now, the next ones at open.
    if (platform === 'citus') await client.query(CITUS_SESSION_SETTINGS);
    detected.set(pool, platform);
    return platform;
  } finally {
    client.release();
  }
}

/** The platform detected for the pool `db` is, or comes from; throws if nobody asked yet. */
export function platformOf(db: pg.Pool | pg.ClientBase): Platform {
  const pool = 'totalCount' in db ? db : poolOfClient.get(db);
  const platform = pool && detected.get(pool);
  if (!platform) {
    throw new Error(
      'the database platform was not detected for this pool: call detectPlatform(pool) at start',
    );
  }
  return platform;
}

/** For a transaction that runs one statement over every shard (the rebuild): Citus's own parallelism. */
export const ALL_SHARDS_IN_PARALLEL = 'SET LOCAL citus.max_adaptive_executor_pool_size TO DEFAULT';

/**
 * Makes `pool`'s statements take `platform`'s form without asking the database: for the test that
 * runs both forms of each statement against one database (on plain PostgreSQL, the Citus forms are
 * valid SQL with the same meaning), and nothing else.
 */
export function assumePlatform(pool: pg.Pool, platform: Platform): void {
  detected.set(pool, platform);
}
