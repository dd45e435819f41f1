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
import { dialectOf } from '../src/db/platform.js';
import type { FollowerCheck, FollowerScope, SummedTable, TransitionFollower } from './projection.js';

/**
 * How a statement writes a follower row that is already stored: `add` its value to the row's (a
 * flush's change, a repair's difference), or `set` the row to it (a repair's sum).
 */
type RowWrite = 'add' | 'set';

/** `ON CONFLICT` of a write to the follower (`x` the stored row): each sum added or set, and `alsoSet`. */
function onConflict(adds: SummedTable, write: RowWrite = 'add'): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  const assignments = [
    ...sums.map((c) => (write === 'add' ? `${c} = x.${c} + EXCLUDED.${c}` : `${c} = EXCLUDED.${c}`)),
    ...(adds.alsoSet ?? []),
  ];
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
${onConflict(adds)}`;
}

/**
 * The same addition of rows already summed (summedSql's answer, bound row by row): where the
 * dialect routes a VALUES list to the rows' shards but would plan `INSERT … SELECT` through its
 * coordinator (Citus).
 */
export function additionOfRows(adds: SummedTable): BulkInsert {
  return {
    into: `${adds.table} AS x`,
    columns: [...adds.key, ...adds.sums],
    tail: onConflict(adds),
    ...(adds.staged && { staged: adds.staged, sharedRows: true }),
  };
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
 * The repair of the follower's rows that differ from `expected`, one statement: `expected` (a
 * SELECT of the key and the sums, taking $1: the tenants asked for, or NULL for all) against what
 * the table holds, both read by it, so in one snapshot; a row at zero and no row are the same. In
 * key order, as a flush writes. Returns a row per row changed.
 */
function repairSql(adds: SummedTable, expected: string, write: RowWrite): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  // What the row lacks, to add; or what it must hold, to set.
  const value = (c: string) =>
    write === 'add' ? `coalesce(e.${c}, 0) - coalesce(s.${c}, 0)` : `coalesce(e.${c}, 0)`;
  return `INSERT INTO ${adds.table} AS x (${[...key, ...sums].join(', ')})
SELECT ${[...key.map((k) => `coalesce(e.${k}, s.${k})`), ...sums.map((c) => value(c))].join(', ')}
FROM (${expected}) e
FULL JOIN (SELECT * FROM ${adds.table} WHERE $1::bigint[] IS NULL OR tenant_id = ANY($1::bigint[])) s
  ON ${key.map((k) => `s.${k} = e.${k}`).join(' AND ')}
WHERE ${sums.map((c) => `coalesce(e.${c}, 0) <> coalesce(s.${c}, 0)`).join(' OR ')}
ORDER BY ${key.map((_, i) => i + 1).join(', ')}
${onConflict(adds, write)}
RETURNING 1`;
}

/**
 * A follower's set-based repair, safe while workers run: the rows changed. Repairs take turns (an
 * advisory lock; on Citus the coordinator's, which every repair goes through).
 *
 * On PostgreSQL it adds to each row what it lacks, and locks no table: a flush committed before the
 * statement's snapshot is in both what the row must hold and what it holds; one committed after it
 * is in neither and adds its own change on top, so neither is lost (setting the row would lose
 * the second). A flush waits only on a row the repair changes, until the repair commits. Two
 * repairs at once would each add the difference: hence the turns.
 *
 * On Citus it sets each row to what it must hold, holding the table against the flushes' additions
 * for that time (SHARE ROW EXCLUSIVE; readers are never blocked): adding is not safe where a
 * commit cut off on one node shows later (Dialect.atomicCommit), and setting twice is.
 */
export function repairBySum(
  adds: SummedTable,
  expected: string,
): (pool: Pool, scope?: FollowerScope) => Promise<number> {
  const statements = { add: repairSql(adds, expected, 'add'), set: repairSql(adds, expected, 'set') };
  return (pool, scope = {}) =>
    inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [REPAIR_LOCK_ID]);
      const write: RowWrite = dialectOf(pool).atomicCommit ? 'add' : 'set';
      if (write === 'set') await client.query(`LOCK TABLE ${adds.table} IN SHARE ROW EXCLUSIVE MODE`);
      // READ COMMITTED: the statement reads after the repair before this one (if any) committed.
      return (await client.query(statements[write], [tenantsParameter(scope)])).rows.length;
    });
}

/** A scope's tenants as the statements' $1: NULL for all. */
export function tenantsParameter(scope: FollowerScope = {}): number[] | null {
  return scope.tenantIds ? [...scope.tenantIds] : null;
}
