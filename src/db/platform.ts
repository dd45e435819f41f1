/**
 * Which platform a pool's database is: plain PostgreSQL, or a Citus coordinator. Some runtime
 * statements have two forms of one meaning (STYLE: "SQL per platform, one meaning"), chosen from
 * what the database reports once at start (`detectPlatform`, run by every command's connection
 * check) and read synchronously after that, also inside a pipelined transaction.
 */
import type pg from 'pg';
import type { Queryable } from './pool.js';

export type Platform = 'postgres' | 'citus';

const detected = new WeakMap<pg.Pool, Platform>();
/** A checked-out client's pool: set by createPool for every connection it opens. */
export const poolOfClient = new WeakMap<pg.ClientBase, pg.Pool>();

/** Asks the database (citus extension installed in it or not) and remembers the answer for `pool`. */
export async function detectPlatform(pool: pg.Pool): Promise<Platform> {
  const { rowCount } = await pool.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  const platform: Platform = (rowCount ?? 0) > 0 ? 'citus' : 'postgres';
  detected.set(pool, platform);
  return platform;
}

/** The platform detected for the pool `db` is, or comes from; throws if nobody asked yet. */
export function platformOf(db: Queryable): Platform {
  const pool = 'totalCount' in db ? db : poolOfClient.get(db);
  const platform = pool && detected.get(pool);
  if (!platform) {
    throw new Error(
      'the database platform was not detected for this pool: call detectPlatform(pool) at start',
    );
  }
  return platform;
}
