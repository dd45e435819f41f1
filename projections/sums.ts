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

/** The statements of a follower's set-based repair (SummedTable's table). */
export interface SumRepair {
  /** Holds off the flushes' additions; readers keep reading. */
  readonly lock: string;
  /**
   * Rows that bets_view no longer backs, to zero; each returns a row per row changed. $1: the
   * tenants to set, or NULL for all (as `sum`).
   */
  readonly zero: string;
  /** Every other row, to the sum over bets_view. */
  readonly sum: string;
}

/** A follower's repair(): its statements in one transaction, for the scope's tenants; the rows changed. */
export function repairBySum(statements: SumRepair): (pool: Pool, scope?: FollowerScope) => Promise<number> {
  return (pool, scope = {}) =>
    inTransaction(pool, async (client) => {
      const tenants = [tenantsParameter(scope)];
      await client.query(statements.lock);
      const zeroed = await client.query(statements.zero, tenants);
      const summed = await client.query(statements.sum, tenants);
      return zeroed.rows.length + summed.rows.length;
    });
}

/** A scope's tenants as the statements' $1: NULL for all. */
export function tenantsParameter(scope: FollowerScope = {}): number[] | null {
  return scope.tenantIds ? [...scope.tenantIds] : null;
}
