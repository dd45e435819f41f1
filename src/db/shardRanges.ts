/**
 * Each Citus table's shard ranges, read from the coordinator's metadata once per pool and table and
 * read again after RANGES_KEPT_MS, for grouping a read's statements by shard (keyedRead.ts). An
 * answer gone stale (a shard split since) only groups worse: the statements filter by value, and
 * Citus routes each by its own metadata.
 */
import type pg from 'pg';
import { dialectOf, poolOf } from './platform.js';
import type { Queryable } from './pool.js';
import type { ShardRange } from './shardMap.js';

/** How long a table's ranges are used before they are read again (in the background). */
export const RANGES_KEPT_MS = 5 * 60_000;

interface Known {
  readAt: number;
  ranges: readonly ShardRange[];
  reading?: Promise<void>;
}

const knownOf = new WeakMap<pg.Pool, Map<string, Known>>();

/** Reads the ranges on a connection of the pool's own, never on a caller's (a transaction may be open there). */
function read(pool: pg.Pool, table: string, known: Known): Promise<void> {
  const statement = dialectOf(pool).shardRangesStatement!(table);
  known.reading = (async () => {
    try {
      const { rows } = await pool.query<{ shard: string; min: number; max: number }>(statement);
      known.ranges = rows.map((r) => ({ shard: r.shard, min: Number(r.min), max: Number(r.max) }));
    } catch {
      // The ranges stay what they were (none at first: a read then goes per tenant), and are asked
      // again after RANGES_KEPT_MS. Only how a read is split depends on them, never what it returns.
    } finally {
      known.readAt = Date.now();
      delete known.reading;
    }
  })();
  return known.reading;
}

/**
 * `table`'s shard ranges as last read, sorted by their hashes; [] where none are known or the
 * dialect has no shards. The first read is awaited by a caller that gave the pool; a caller on a
 * checked-out client gets what is known and starts the read for the next one. Once stale, they are
 * read again in the background and the stale ones used meanwhile.
 */
export async function shardRangesOf(db: Queryable, table: string): Promise<readonly ShardRange[]> {
  const pool = poolOf(db);
  if (!pool || !dialectOf(db).shardRangesStatement) return [];
  let tables = knownOf.get(pool);
  if (!tables) knownOf.set(pool, (tables = new Map<string, Known>()));
  let known = tables.get(table);
  if (!known) tables.set(table, (known = { readAt: 0, ranges: [] }));
  const stale = Date.now() - known.readAt > RANGES_KEPT_MS;
  if (!known.reading && stale) void read(pool, table, known);
  if (known.reading && known.readAt === 0 && db === pool) await known.reading;
  return known.ranges;
}
