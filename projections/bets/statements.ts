/**
 * The bets projection's runtime SQL: read stored rows, and the one version-guarded bulk UPSERT that
 * every write path uses, each declared once; the dialect (src/db/dialect.ts) gives it PostgreSQL's
 * form (arrays and unnest) or Citus's (VALUES lists routed to the shards, a read per shard).
 */
import type { BulkInsert, KeyedRead, SqlStatement } from '../../src/db/dialect.js';
import { readKeyed } from '../../src/db/keyedRead.js';
import { dialectOf } from '../../src/db/platform.js';
import type { PoolClient, Queryable } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import { TRANSITION_RELATION, type TransitionFollower } from '../projection.js';
import { additionOfRows, followerCtes, summedSql } from '../sums.js';
import type { BetRef } from './plan.js';
import type { BetRow } from './row.js';
import {
  PREVIOUS_COLUMNS,
  ROW_COLUMNS,
  SELECT_ROW_COLUMNS,
  TRANSITION_RETURNING,
  WRITTEN_AT,
  rowFromRead,
  rowValues,
} from './columns.js';

export const VIEW_TABLE = 'bets_view';
/** Where a large batch for the live table waits within its transaction on Citus (migration 017). */
const STAGED_TABLE = 'bets_view_staged';

const UPDATED = [
  ...[...ROW_COLUMNS.map((c) => c.name), WRITTEN_AT.name]
    .filter((name) => name !== 'tenant_id' && name !== 'bet_id')
    .map((name) => `${name} = EXCLUDED.${name}`),
  ...PREVIOUS_COLUMNS.map((c) => `${c.name} = ${c.value}`),
].join(', ');

/**
 * The version guard (`WHERE v.version < EXCLUDED.version`) means a row only ever moves forward:
 * a replay, a late delivery or a slower writer with an older fold changes nothing. Every row
 * written is the fold of its bet's events 1..version, so the highest version is always right.
 * RETURNING names exactly the rows that passed it.
 */
function upsertInto(
  table: string,
  returning: string,
  options: { name?: string; guard?: '<' | '<='; staged?: string } = {},
): BulkInsert {
  const { name, guard = '<', staged } = options;
  return {
    ...(name && { name }),
    ...(staged && { staged }),
    into: `${table} AS v`,
    columns: ROW_COLUMNS,
    computed: [WRITTEN_AT],
    tail: `ON CONFLICT (tenant_id, bet_id) DO UPDATE SET ${UPDATED}
WHERE v.version ${guard} EXCLUDED.version
RETURNING ${returning}`,
  };
}

/**
 * The live table's UPSERT, returning each accepted row as a transition. A flush's, a re-fold's or an
 * immediate write's batch: large batches go through the staging table on Citus.
 */
const UPSERT_BETS = upsertInto(VIEW_TABLE, TRANSITION_RETURNING, { staged: STAGED_TABLE });
/** The same, returning only the accepted rows' keys (no followers). */
const UPSERT_BETS_KEYS = upsertInto(VIEW_TABLE, 'tenant_id, bet_id', {
  name: 'bets_view_upsert',
  staged: STAGED_TABLE,
});

/**
 * The fold written over a row at its own version too: `projector repair` healing a row that
 * `projector verify` found is not the fold of its events (a write from outside the projector).
 * Still never backwards. No followers: the repair sets them from bets_view afterwards.
 */
const REWRITE_BETS = upsertInto(VIEW_TABLE, 'tenant_id, bet_id', { guard: '<=' });

type Key = { tenant_id: number; bet_id: string };
type TransitionRow = Key & Record<string, unknown>;

/**
 * The UPSERT and every follower's addition in one statement, where the dialect runs a
 * data-modifying CTE in place (PostgreSQL): the followers read the accepted rows as `transitions`,
 * and the statement returns their keys. Prepared under a name per set of followers.
 */
function chained(upsert: SqlStatement, followers: readonly TransitionFollower[]): SqlStatement {
  return {
    name: `bets_view_upsert_then_${followers.map((f) => f.name).join('_')}`,
    text: `WITH transitions AS (${upsert.text}),
${followers.map(followerCtes).join(',\n')}
SELECT tenant_id, bet_id FROM transitions`,
    values: upsert.values,
  };
}

/**
 * A follower's change summed per key, over the transitions an UPSERT returned (bound as arrays): a
 * query of no table, which the coordinator answers alone, where the dialect does not chain writes
 * (Citus). Its rows then go to their shards as an addition of rows (additionOfRows).
 */
function followerSums(follower: TransitionFollower, transitions: readonly TransitionRow[]): SqlStatement {
  const arrays = TRANSITION_RELATION.map((c, i) => `$${i + 1}::${c.bound}[]`).join(', ');
  const names = TRANSITION_RELATION.map((c) => c.name).join(', ');
  const change = `${follower.name}_change`;
  return {
    text: `WITH transitions AS (SELECT * FROM unnest(${arrays}) AS t(${names})),
${change} AS (${follower.change})
${summedSql(follower.adds, change)}`,
    values: TRANSITION_RELATION.map((c) => transitions.map((t) => t[c.name] ?? null)),
  };
}

/**
 * Writes rows (at most one per bet) to bets_view, and through `followers` the read models derived
 * from it; returns the keys (`tenant_id:bet_id`) of the rows that passed the version guard. On one
 * client, in the caller's transaction (a large batch passes through a staging table on Citus).
 */
export async function writeBetRows(
  db: PoolClient,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[] = [],
): Promise<Set<string>> {
  const { written, followed } = await sendBetRows(db, rows, followers);
  await followed;
  return written;
}

const NOTHING_IN_FLIGHT = Promise.resolve();

/**
 * Rows in key order. Every writer of the live bets_view sends its rows in this order — a flush, the
 * sweep's and repair's re-folds, verify's heal, a tenant's rebuild, immediate mode, two workers on
 * one partition in a rebalance — so on PostgreSQL two transactions that share rows lock them in the
 * same order and never wait on each other in a circle (CI's cluster run met a deadlock between a
 * flush and the sweep's re-fold). The followers' additions are in key order already
 * (projections/sums.ts). On Citus the order holds within each shard's task; a deadlock across
 * tasks stays possible, and is retried like any other (src/errors.ts).
 */
export function inKeyOrder(rows: readonly BetRow[]): BetRow[] {
  return [...rows].sort(
    (a, b) => a.tenantId - b.tenantId || (a.betId < b.betId ? -1 : a.betId > b.betId ? 1 : 0),
  );
}

/**
 * writeBetRows for a pipelined caller: the rows are sent before the first await. Where writes
 * chain (PostgreSQL) the followers are in the same statement; elsewhere this resolves once the
 * UPSERT has answered, the followers' changes over the rows it accepted have been summed, and
 * their additions are sent; `followed` settles when those are answered (the caller's COMMIT goes
 * behind them). Matched by key: on Citus RETURNING comes back in no fixed order.
 */
export async function sendBetRows(
  db: PoolClient,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[] = [],
): Promise<{ written: Set<string>; followed: Promise<unknown> }> {
  if (rows.length === 0) return { written: new Set(), followed: NOTHING_IN_FLIGHT };
  const dialect = dialectOf(db);
  const values = inKeyOrder(rows).map(rowValues);
  const keysOf = (answers: ReadonlyArray<{ rows: Key[] }>) =>
    new Set(answers.flatMap((a) => a.rows.map((r) => betKey(Number(r.tenant_id), r.bet_id))));
  if (followers.length === 0 || dialect.chainedWrites) {
    const statements =
      followers.length === 0
        ? dialect.insertRows(UPSERT_BETS_KEYS, values)
        : dialect.insertRows(UPSERT_BETS, values).map((upsert) => chained(upsert, followers));
    const answers = await Promise.all(statements.map((s) => db.query<Key>(s)));
    return { written: keysOf(answers), followed: NOTHING_IN_FLIGHT };
  }
  const answers = await Promise.all(
    dialect.insertRows(UPSERT_BETS, values).map((s) => db.query<TransitionRow>(s)),
  );
  const written = keysOf(answers);
  const accepted = answers.flatMap((a) => a.rows);
  if (accepted.length === 0) return { written, followed: NOTHING_IN_FLIGHT };
  // Summed first, then routed: Citus plans an INSERT … SELECT through the coordinator and pushes
  // its rows to each shard in turn, a round trip per shard touched (docs/citus.md).
  const summed = await Promise.all(
    followers.map((f) => db.query<Record<string, unknown>>(followerSums(f, accepted))),
  );
  const followed = Promise.all(
    followers.flatMap((f, i) => {
      const columns = [...f.adds.key, ...f.adds.sums];
      const rows = summed[i]!.rows.map((r) => columns.map((c) => r[c.name]));
      return dialect.insertRows(additionOfRows(f.adds), rows).map((s) => db.query(s));
    }),
  );
  // Awaited by the caller after it has sent more; until then a failure must not go unhandled.
  followed.catch(() => undefined);
  return { written, followed };
}

/** Rewrites rows with the fold at their own version or above (REWRITE_BETS); the rows written. */
export async function rewriteBetRows(db: Queryable, rows: readonly BetRow[]): Promise<number> {
  let written = 0;
  for (const statement of dialectOf(db).insertRows(REWRITE_BETS, inKeyOrder(rows).map(rowValues))) {
    written += (await db.query(statement)).rowCount ?? 0;
  }
  return written;
}

/**
 * Inserts rows of bets the table does not hold yet into a table shaped like bets_view — the
 * rebuild's shadow while it is filled, before it has a primary key to meet a conflict on.
 */
export async function insertBetRows(db: Queryable, rows: readonly BetRow[], table: string): Promise<number> {
  const insert: BulkInsert = { into: table, columns: ROW_COLUMNS, computed: [WRITTEN_AT], tail: '' };
  let written = 0;
  for (const statement of dialectOf(db).insertRows(insert, rows.map(rowValues))) {
    written += (await db.query(statement)).rowCount ?? 0;
  }
  return written;
}

/**
 * Writes rows (at most one per bet) to a table shaped like bets_view — the rebuild's shadow — and
 * returns how many passed the version guard. The live table goes through writeBetRows.
 */
export async function upsertBetRows(db: Queryable, rows: readonly BetRow[], table: string): Promise<number> {
  if (rows.length === 0) return 0;
  let written = 0;
  for (const statement of dialectOf(db).insertRows(upsertInto(table, 'bet_id'), rows.map(rowValues))) {
    written += (await db.query(statement)).rowCount ?? 0;
  }
  return written;
}

const SELECT_BET_ROWS: KeyedRead = {
  columns: SELECT_ROW_COLUMNS,
  from: VIEW_TABLE,
  keys: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'bet_id', bound: 'text' },
  ],
};

/** The stored rows of these bets, keyed by `tenant_id:bet_id`. */
export async function readBetRows(db: Queryable, bets: readonly BetRef[]): Promise<Map<string, BetRow>> {
  const rows = new Map<string, BetRow>();
  if (bets.length === 0) return rows;
  const read = await readKeyed<{ tenant_id: number; bet_id: string }>(
    db,
    SELECT_BET_ROWS,
    bets.map((b) => [b.tenantId, b.betId]),
    (row) => [row.tenant_id, row.bet_id],
  );
  for (const r of read) rows.set(betKey(r.tenant_id, r.bet_id), rowFromRead(r));
  return rows;
}
