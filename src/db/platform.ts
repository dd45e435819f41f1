/**
 * Which dialect a pool's database speaks (dialect.ts): asked once per pool, from whether the citus
 * extension is installed (`detectDialect`, run by every command's connection check), and read
 * synchronously after that — also inside a pipelined transaction, where nothing may be awaited.
 */
import type pg from 'pg';

import type { Platform } from '../config.js';
import { DIALECTS, type Dialect } from './dialect.js';

export type { Platform };

const detected = new WeakMap<pg.Pool, Dialect>();
/** A checked-out client's pool: set by createPool for every connection it opens. */
const poolOfClient = new WeakMap<pg.ClientBase, pg.Pool>();

/**
 * For createPool, on each new connection (before anything else is sent on it): remembers its pool
 * and queues the dialect's session settings where the dialect is known.
 */
export function onNewConnection(pool: pg.Pool, client: pg.ClientBase): void {
  poolOfClient.set(client, pool);
  for (const setting of detected.get(pool)?.sessionSettings ?? []) {
    client.query(setting).catch(() => undefined);
  }
}

/** Whether the citus extension is installed in the database `db` is connected to. */
export async function hasCitusExtension(db: pg.Pool | pg.ClientBase): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  return (rowCount ?? 0) > 0;
}

/** The pool's dialect: asked of the database the first time, remembered after that. */
export async function detectDialect(pool: pg.Pool): Promise<Dialect> {
  const known = detected.get(pool);
  if (known) return known;
  const client = await pool.connect();
  try {
    const dialect = DIALECTS[(await hasCitusExtension(client)) ? 'citus' : 'postgres'];
    // This connection was opened before the answer: it gets the settings now, the next ones at open.
    for (const setting of dialect.sessionSettings) await client.query(setting);
    detected.set(pool, dialect);
    return dialect;
  } finally {
    client.release();
  }
}

/** The pool `db` is, or the pool it was checked out of (createPool's). */
export function poolOf(db: pg.Pool | pg.ClientBase): pg.Pool | undefined {
  return 'totalCount' in db ? db : poolOfClient.get(db);
}

/** The dialect detected for the pool `db` is, or comes from; throws if nobody asked yet. */
export function dialectOf(db: pg.Pool | pg.ClientBase): Dialect {
  const pool = poolOf(db);
  const dialect = pool && detected.get(pool);
  if (!dialect) {
    throw new Error('the database dialect was not detected for this pool: call detectDialect(pool) at start');
  }
  return dialect;
}

/**
 * Makes `pool`'s statements take `platform`'s form without asking the database: for the test that
 * runs both forms of each statement against one database (on plain PostgreSQL, the Citus forms are
 * valid SQL with the same meaning), and nothing else.
 */
export function assumeDialect(pool: pg.Pool, platform: Platform): void {
  detected.set(pool, DIALECTS[platform]);
}
