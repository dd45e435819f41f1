/**
 * Each Citus table's shard ranges, read from the coordinator's metadata once per pool and table and
 * read again after RANGES_KEPT_MS, for grouping a read's statements by shard (keyedRead.ts). An
 * answer gone stale (a shard split since) only groups worse: the statements filter by value, and
 * Citus routes each by its own metadata.
 */
import type pg from 'pg';
import type { SqlStatement } from './dialect.js';
import { poolOf } from './platform.js';
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

async function read(pool: pg.Pool, known: Known, statement: SqlStatement): Promise<void> {
  try {
    const { rows } = await pool.query<{ shard: string; min: number; max: number }>(statement);
    known.ranges = rows.map((r) => ({ shard: r.shard, min: Number(r.min), max: Number(r.max) }));
  } catch {
    // The ranges stay what they were: none at first, and without ranges a read goes per tenant (the
    // table may not be distributed yet, or the metadata not readable); asked again after RANGES_KEPT_MS.
  } finally {
    known.readAt = Date.now();
    delete known.reading;
  }
}

/**
 * `table`'s shard ranges as last read (by `statement`), sorted by their hashes; [] where none are
 * known. Read first on a pool that has none yet; read again in the background once stale. Through a
 * checked-out client (a transaction may be open on it) only what is known already: the metadata is
 * read on a connection of the pool's own.
 */
export async function shardRangesOf(
  db: Queryable,
  table: string,
  statement: SqlStatement,
): Promise<readonly ShardRange[]> {
  const pool = poolOf(db);
  if (!pool) return [];
  let tables = knownOf.get(pool);
  if (!tables) knownOf.set(pool, (tables = new Map<string, Known>()));
  let known = tables.get(table);
  if (!known) {
    if (db !== pool) return [];
    tables.set(table, (known = { readAt: 0, ranges: [] }));
    known.reading = read(pool, known, statement);
  } else if (!known.reading && Date.now() - known.readAt > RANGES_KEPT_MS) {
    known.reading = read(pool, known, statement);
    return known.ranges;
  }
  if (known.reading && known.readAt === 0 && db === pool) await known.reading;
  return known.ranges;
}
