/**
 * Runs a read by keys as the dialect writes it (Dialect.readByKeys): its statements pipelined on one
 * connection, their rows together, cut back to exactly the keys asked for. On Citus the statements
 * are grouped by the shard of their keys' tenants, from the table's shard ranges (shardRanges.ts).
 */
import pg from 'pg';
import type { KeyedRead } from './dialect.js';
import { dialectOf } from './platform.js';
import type { Queryable } from './pool.js';
import { shardOf } from './shardMap.js';
import { shardRangesOf } from './shardRanges.js';

/**
 * The rows of `read` whose key (`keyOf`, in the declaration's key order) is one of `keys`: each
 * bet's rows together, in the read's ORDER BY; no order promised across bets on Citus (keyGroups.ts).
 * Statements sent together on a pool go out on one client, in one round trip.
 */
export async function readKeyed<R extends object>(
  db: Queryable,
  read: KeyedRead,
  keys: ReadonlyArray<readonly unknown[]>,
  keyOf: (row: R) => readonly unknown[],
): Promise<R[]> {
  const dialect = dialectOf(db);
  const ranges = await shardRangesOf(db, read.from);
  const query = dialect.readByKeys(
    read,
    keys,
    ranges.length > 0 ? (first) => shardOf(ranges, first) : undefined,
  );
  const run = async (client: Queryable) =>
    (await Promise.all(query.statements.map((s) => client.query<R>(s)))).flatMap((answer) => answer.rows);
  const pooled = query.statements.length > 1 && db instanceof pg.Pool;
  return query.keep(await (pooled ? onOneClient(db, run) : run(db)), keyOf);
}

/** `work` on one client of the pool; a client whose work failed (its connection lost, say) is dropped. */
async function onOneClient<T>(pool: pg.Pool, work: (client: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    return await work(client);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.release(failed);
  }
}
