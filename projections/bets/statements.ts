/**
 * The bets projection's runtime SQL: read stored rows, and the one version-guarded bulk UPSERT that
 * every write path uses, each declared once; the dialect (src/db/dialect.ts) gives it PostgreSQL's
 * form (arrays and unnest) or Citus's (VALUES lists routed to the shards, array filters).
 */
import type { BulkInsert, KeyedRead } from '../../src/db/dialect.js';
import { dialectOf } from '../../src/db/platform.js';
import type { Queryable } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import type { Transition, TransitionFollower } from '../projection.js';
import { addToSums } from '../sums.js';
import type { BetRef } from './plan.js';
import type { BetRow } from './row.js';
import {
  PREVIOUS_COLUMNS,
  ROW_COLUMNS,
  SELECT_ROW_COLUMNS,
  TRANSITION_COLUMNS,
  WRITTEN_AT,
  rowFromRead,
  rowValues,
} from './columns.js';

export const VIEW_TABLE = 'bets_view';

const UPDATED = [
  ...[...ROW_COLUMNS.map((c) => c.name), WRITTEN_AT.name]
    .filter((name) => name !== 'tenant_id' && name !== 'bet_id')
    .map((name) => `${name} = EXCLUDED.${name}`),
  ...PREVIOUS_COLUMNS.map((c) => `${c.name} = v.${c.of}`),
].join(', ');

/**
 * The version guard (`WHERE v.version < EXCLUDED.version`) means a row only ever moves forward:
 * a replay, a late delivery or a slower writer with an older fold changes nothing. Every row
 * written is the fold of its bet's events 1..version, so the highest version is always right.
 * RETURNING names exactly the rows that passed it.
 */
function upsertInto(table: string, returning: string, name?: string): BulkInsert {
  return {
    ...(name && { name }),
    into: `${table} AS v`,
    columns: ROW_COLUMNS,
    computed: [WRITTEN_AT],
    tail: `ON CONFLICT (tenant_id, bet_id) DO UPDATE SET ${UPDATED}
WHERE v.version < EXCLUDED.version
RETURNING ${returning}`,
  };
}

/** The live table's UPSERT, returning each accepted row as a transition for the followers. */
const UPSERT_BETS = upsertInto(VIEW_TABLE, TRANSITION_COLUMNS, 'bets_view_upsert');

interface TransitionRow {
  tenant_id: number | string;
  bet_id: string;
  user_id: string | null;
  currency: string | null;
  amount: string | null;
  odds: string | null;
  status: string;
  payout: string | null;
  placed_at: Date | null;
  last_updated_timestamp: number | string;
  previous_status: string | null;
  previous_payout: string | null;
  previous_event_at: number | string | null;
}

function transitionOf(r: TransitionRow): Transition {
  return {
    tenantId: Number(r.tenant_id),
    betId: r.bet_id,
    userId: r.user_id,
    currency: r.currency,
    amount: r.amount,
    odds: r.odds,
    status: r.status,
    payout: r.payout,
    placedAt: r.placed_at === null ? null : r.placed_at.getTime(),
    eventAt: Number(r.last_updated_timestamp),
    previous:
      r.previous_status === null
        ? null
        : {
            status: r.previous_status,
            payout: r.previous_payout,
            eventAt: r.previous_event_at === null ? null : Number(r.previous_event_at),
          },
  };
}

/**
 * Writes rows (at most one per bet) to bets_view, and through `followers` the read models derived
 * from it; returns the keys (`tenant_id:bet_id`) of the rows that passed the version guard.
 */
export async function writeBetRows(
  db: Queryable,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[] = [],
): Promise<Set<string>> {
  const { written, followed } = await sendBetRows(db, rows, followers);
  await followed;
  return written;
}

const NOTHING_IN_FLIGHT = Promise.resolve();

/**
 * writeBetRows for a pipelined caller: the UPSERT is sent before the first await; this resolves
 * once it has answered and the followers' additions, built from the rows it accepted, are sent, and
 * `followed` settles when they are answered (the caller's COMMIT goes behind them). Matched by key:
 * on Citus RETURNING comes back in no fixed order.
 */
export async function sendBetRows(
  db: Queryable,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[] = [],
): Promise<{ written: Set<string>; followed: Promise<unknown> }> {
  if (rows.length === 0) return { written: new Set(), followed: NOTHING_IN_FLIGHT };
  const dialect = dialectOf(db);
  const answers = await Promise.all(
    dialect.insertRows(UPSERT_BETS, rows.map(rowValues)).map((s) => db.query<TransitionRow>(s)),
  );
  const accepted = answers.flatMap((a) => a.rows);
  const written = new Set(accepted.map((r) => betKey(Number(r.tenant_id), r.bet_id)));
  if (followers.length === 0 || accepted.length === 0) return { written, followed: NOTHING_IN_FLIGHT };
  const transitions = accepted.map(transitionOf);
  const followed = Promise.all(
    followers
      .flatMap((f) => addToSums(dialect, f.adds, f.deltas(transitions)))
      .map((statement) => db.query(statement)),
  );
  // Awaited by the caller after it has sent more; until then a failure must not go unhandled.
  followed.catch(() => undefined);
  return { written, followed };
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
  select: `SELECT ${SELECT_ROW_COLUMNS}
FROM bets_view`,
  keys: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'bet_id', bound: 'text' },
  ],
};

/** The stored rows of these bets, keyed by `tenant_id:bet_id`. */
export async function readBetRows(db: Queryable, bets: readonly BetRef[]): Promise<Map<string, BetRow>> {
  const rows = new Map<string, BetRow>();
  if (bets.length === 0) return rows;
  const read = dialectOf(db).readByKeys(
    SELECT_BET_ROWS,
    bets.map((b) => [b.tenantId, b.betId]),
  );
  const result = await db.query<{ tenant_id: number; bet_id: string }>(read.statement);
  for (const r of read.keep(result.rows, (row) => [row.tenant_id, row.bet_id])) {
    rows.set(betKey(r.tenant_id, r.bet_id), rowFromRead(r));
  }
  return rows;
}
