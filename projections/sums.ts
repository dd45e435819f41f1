/**
 * What followers that sum (TransitionFollower) share: the SQL that adds a change to the table, from
 * its declaration — the change summed per key, in key order (two flushes touching the same keys
 * lock their rows in the same order; on Citus, within each worker node, whose tasks run on a
 * connection of their own: across nodes two flushes can deadlock, which Citus detects and the
 * worker retries), then added ON CONFLICT to what is stored — and the shape of their check and
 * set-based repair.
 */
import type { BulkInsert } from '../src/db/dialect.js';
import { inTransaction, type Pool } from '../src/db/pool.js';
import type { FollowerCheck, FollowerScope, SummedTable, TransitionFollower } from './projection.js';

/** `ON CONFLICT` of an addition: each sum added to what is stored (`x`), and `alsoSet`. */
function addedOnConflict(adds: SummedTable): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  const assignments = [...sums.map((c) => `${c} = x.${c} + EXCLUDED.${c}`), ...(adds.alsoSet ?? [])];
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET
  ${assignments.join(',\n  ')}`;
}

/** The follower's change, read from the relation `change`, summed per key, in key order. */
export function summedSql(adds: SummedTable, change: string): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  return `SELECT ${[...key, ...sums.map((c) => `sum(${c}) AS ${c}`)].join(', ')}
FROM ${change}
GROUP BY ${key.join(', ')}
HAVING ${sums.map((c) => `sum(${c}) <> 0`).join(' OR ')}
ORDER BY ${key.join(', ')}`;
}

/** `INSERT … SELECT` of the follower's change, summed per key, read from the relation `change`. */
function additionSql(adds: SummedTable, change: string): string {
  const columns = [...adds.key, ...adds.sums].map((c) => c.name);
  return `INSERT INTO ${adds.table} AS x (${columns.join(', ')})
${summedSql(adds, change)}
${addedOnConflict(adds)}`;
}

/**
 * The same addition of rows already summed (summedSql's answer, bound row by row): where the
 * dialect routes a VALUES list to the rows' shards but would plan `INSERT … SELECT` through its
 * coordinator (Citus).
 */
export function additionOfRows(adds: SummedTable): BulkInsert {
  return { into: `${adds.table} AS x`, columns: [...adds.key, ...adds.sums], tail: addedOnConflict(adds) };
}

/** The follower's change and its addition as common table expressions, after `transitions`. */
export function followerCtes(follower: TransitionFollower): string {
  const change = `${follower.name}_change`;
  return `${change} AS (${follower.change}),
${follower.name}_added AS (${additionSql(follower.adds, change)})`;
}

/** A follower's check() from its mismatches: how many, and the first ten as report rows. */
export function checkOf<T>(
  found: readonly T[],
  row: (mismatch: T) => Record<string, string | number>,
): FollowerCheck {
  return { differing: found.length, sample: found.slice(0, 10).map(row) };
}

/** One follower repair at a time (any stable number; this one spells "sums"). */
const REPAIR_LOCK_ID = 0x73756d73;

/**
 * What each row of the table lacks, as rows of an addition (key, then each sum): what `expected`
 * says it must hold less what it holds, both read by this one statement, so in one snapshot (on
 * Citus, in one task per shard, which reads a tenant's rows of both colocated tables). A row at
 * zero and no row are the same. `expected` is a SELECT of the key and the sums, taking $1: the
 * tenants asked for, or NULL for all.
 */
function lackingSql(adds: SummedTable, expected: string): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  return `SELECT ${[
    ...key.map((k) => `coalesce(e.${k}, s.${k}) AS ${k}`),
    ...sums.map((c) => `coalesce(e.${c}, 0) - coalesce(s.${c}, 0) AS ${c}`),
  ].join(', ')}
FROM (${expected}) e
FULL JOIN (SELECT * FROM ${adds.table} WHERE $1::bigint[] IS NULL OR tenant_id = ANY($1::bigint[])) s
  ON ${key.map((k) => `s.${k} = e.${k}`).join(' AND ')}`;
}

/**
 * A follower's set-based repair: the rows changed. It adds to each row what it lacks
 * (lackingSql) instead of setting it, so it holds no table lock and no flush waits for it: a
 * flush committed before the repair's snapshot is in both what the row must hold and what it
 * holds; one committed after it is in neither and adds its own change on top. The rows it changes
 * are locked in key order, as a flush's are. Two repairs at once would each add the difference,
 * so they take turns (an advisory lock; on Citus the coordinator's, which every repair goes through).
 */
export function repairByAddition(
  adds: SummedTable,
  expected: string,
): (pool: Pool, scope?: FollowerScope) => Promise<number> {
  const statement = `${additionSql(adds, `(${lackingSql(adds, expected)}) lacking`)}
RETURNING 1`;
  return (pool, scope = {}) =>
    inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [REPAIR_LOCK_ID]);
      // READ COMMITTED: the statement reads after the repair before this one (if any) committed.
      return (await client.query(statement, [tenantsParameter(scope)])).rows.length;
    });
}

/** A scope's tenants as the statements' $1: NULL for all. */
export function tenantsParameter(scope: FollowerScope = {}): number[] | null {
  return scope.tenantIds ? [...scope.tenantIds] : null;
}
