/**
 * The bets projection's runtime SQL: read stored rows, and the one version-guarded bulk UPSERT that
 * every write path uses. On PostgreSQL the rows are bound as arrays and expanded with unnest; on
 * Citus they are a multi-row VALUES list, which Citus routes to the shards (src/db/valuesList.ts).
 * Either way a flush is one statement (up to a thousand rows).
 */
import { platformOf } from '../../src/db/platform.js';
import type { Queryable } from '../../src/db/pool.js';
import { rowMajor, rowsPerStatement, slices, valuesList } from '../../src/db/valuesList.js';
import { betKey } from '../../src/events/types.js';
import type { Transition, TransitionFollower } from '../projection.js';
import type { BetRef } from './plan.js';
import type { BetRow } from './row.js';
import {
  PREVIOUS_STATUS,
  ROW_COLUMNS,
  SELECT_ROW_COLUMNS,
  WRITTEN_AT,
  WRITTEN_COLUMNS,
  rowFromRead,
  rowValues,
} from './columns.js';

export const VIEW_TABLE = 'bets_view';

/** The column list, DO UPDATE list and both bound forms, from the one declaration of the row. */
const UPDATED = [...ROW_COLUMNS.map((c) => c.name), WRITTEN_AT.name]
  .filter((name) => name !== 'tenant_id' && name !== 'bet_id')
  .map((name) => `${name} = EXCLUDED.${name}`)
  .join(', ');

/**
 * The version guard (`WHERE v.version < EXCLUDED.version`) means a row only ever moves forward:
 * a replay, a late delivery or a slower writer with an older fold changes nothing. Every row
 * written is the fold of its bet's events 1..version, so the highest version is always right.
 */
const ON_CONFLICT = `
ON CONFLICT (tenant_id, bet_id) DO UPDATE SET ${UPDATED}, ${PREVIOUS_STATUS} = v.status
WHERE v.version < EXCLUDED.version`;

/** PostgreSQL's form: one array per column, expanded by unnest. */
function upsertSql(table: string = VIEW_TABLE): string {
  const arrays = ROW_COLUMNS.map((c, i) => `$${i + 1}::${c.bound}[]`).join(', ');
  const names = ROW_COLUMNS.map((c) => c.name).join(', ');
  const values = ROW_COLUMNS.map((c) => (c.write ? c.write(`u.${c.name}`) : `u.${c.name}`)).join(', ');
  return `
INSERT INTO ${table} AS v (${WRITTEN_COLUMNS})
SELECT ${values}, ${WRITTEN_AT.value}
FROM unnest(${arrays}) AS u(${names})${ON_CONFLICT}`;
}

/** The row's columns in a VALUES list: one parameter per column, row by row. */
const ROW_VALUES = [
  ...ROW_COLUMNS.map((c) => (c.write ? c.write(`$::${c.bound}`) : `$::${c.bound}`)),
  WRITTEN_AT.value,
];
const ROWS_PER_STATEMENT = rowsPerStatement(ROW_COLUMNS.length);

/**
 * The same UPSERT for Citus, returning `returning` of the rows that passed the version guard. No
 * followers' CTE here: Citus runs a data-modifying CTE through the coordinator (writeOnCitus).
 */
function upsertValuesSql(rows: number, table: string = VIEW_TABLE, returning = 'tenant_id, bet_id'): string {
  return `
INSERT INTO ${table} AS v (${WRITTEN_COLUMNS})
VALUES ${valuesList(ROW_VALUES, rows)}${ON_CONFLICT}
RETURNING ${returning}`;
}

const UPSERT_BETS = upsertSql();

/** The column arrays of the UPSERT, in its parameter order. */
function upsertParams(rows: readonly BetRow[]): unknown[][] {
  const columns: unknown[][] = ROW_COLUMNS.map(() => new Array<unknown>(rows.length));
  rows.forEach((r, i) => {
    const values = rowValues(r);
    values.forEach((value, c) => ((columns[c] as unknown[])[i] = value));
  });
  return columns;
}

/** What a written row tells the read models that follow bets_view (see TransitionFollower). */
const TRANSITION_COLUMNS = 'tenant_id, bet_id, user_id, currency, amount, odds, status, previous_status';

/**
 * An UPSERT of the live table that names the rows that passed the version guard — and, with
 * followers, hands those rows to them as `transitions` in the same statement.
 */
function withFollowers(upsert: string, followers: readonly TransitionFollower[]): string {
  if (followers.length === 0) return `${upsert}\nRETURNING tenant_id, bet_id`;
  return `WITH transitions AS (${upsert}
RETURNING ${TRANSITION_COLUMNS}),
${followers.map((f) => f.cte).join(',\n')}
SELECT tenant_id, bet_id FROM transitions`;
}

/** Statement texts and names by followers (a process has one or two sets). */
const composed = new Map<string, { name: string; text: string }>();
function liveUpsert(followers: readonly TransitionFollower[]): { name: string; text: string } {
  const key = followers.map((f) => f.name).join('+');
  let statement = composed.get(key);
  if (!statement) {
    statement = {
      name: key ? `bets_view_upsert_then_${key.replace(/\W/g, '_')}` : 'bets_view_upsert_returning',
      text: withFollowers(UPSERT_BETS, followers),
    };
    composed.set(key, statement);
  }
  return statement;
}

/**
 * True when writeBetRows sends everything before its first await. Not for followers on Citus: there
 * they follow in statements of their own, built from the UPSERT's answer (TransitionFollower.follow).
 */
export function writesInOneRoundTrip(db: Queryable, followers: readonly TransitionFollower[]): boolean {
  return followers.length === 0 || platformOf(db) !== 'citus';
}

interface TransitionRow {
  tenant_id: number;
  bet_id: string;
  user_id: string | null;
  currency: string | null;
  amount: string | null;
  odds: string | null;
  status: string;
  previous_status: string | null;
}

/**
 * Writes rows (at most one per bet) to bets_view, and through `followers` the read models derived
 * from it; returns the keys (`tenant_id:bet_id`) of the rows that passed the version guard. Matched
 * by key: on Citus RETURNING comes back in no fixed order.
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
 * writeBetRows for a pipelined caller: every statement is sent before the first await, so the
 * caller keeps one round trip — except where writesInOneRoundTrip says not: then it resolves once
 * the UPSERT has answered and the followers' statements are sent, and `followed` settles when they
 * are answered (the caller's COMMIT goes behind them).
 */
export async function sendBetRows(
  db: Queryable,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[] = [],
): Promise<{ written: Set<string>; followed: Promise<unknown> }> {
  const written = new Set<string>();
  if (rows.length === 0) return { written, followed: NOTHING_IN_FLIGHT };
  if (platformOf(db) === 'citus') return sendOnCitus(db, rows, followers);
  type Key = { tenant_id: number; bet_id: string };
  const result = await db.query<Key>({ ...liveUpsert(followers), values: upsertParams(rows) });
  for (const r of result.rows) written.add(betKey(r.tenant_id, r.bet_id));
  return { written, followed: NOTHING_IN_FLIGHT };
}

/** Routed VALUES slices; then, with followers, their statements built from the rows accepted. */
async function sendOnCitus(
  db: Queryable,
  rows: readonly BetRow[],
  followers: readonly TransitionFollower[],
): Promise<{ written: Set<string>; followed: Promise<unknown> }> {
  const returning = followers.length > 0 ? TRANSITION_COLUMNS : 'tenant_id, bet_id';
  const answers = await Promise.all(
    slices(rows, ROWS_PER_STATEMENT).map((slice) =>
      db.query<TransitionRow>({
        text: upsertValuesSql(slice.length, VIEW_TABLE, returning),
        values: rowMajor(slice.map(rowValues)),
      }),
    ),
  );
  const accepted = answers.flatMap((a) => a.rows);
  const written = new Set(accepted.map((r) => betKey(r.tenant_id, r.bet_id)));
  if (followers.length === 0 || accepted.length === 0) return { written, followed: NOTHING_IN_FLIGHT };
  const transitions: Transition[] = accepted.map((r) => ({
    tenantId: Number(r.tenant_id),
    betId: r.bet_id,
    userId: r.user_id,
    currency: r.currency,
    amount: r.amount,
    odds: r.odds,
    status: r.status,
    previousStatus: r.previous_status,
  }));
  const followed = Promise.all(
    followers.flatMap((f) => f.follow(transitions)).map((statement) => db.query(statement)),
  );
  // Awaited by the caller after it has sent more; until then a failure must not go unhandled.
  followed.catch(() => undefined);
  return { written, followed };
}

/**
 * Writes rows (at most one per bet) to a table shaped like bets_view — the rebuild's shadow — and
 * returns how many passed the version guard. The live table goes through writeBetRows.
 */
export async function upsertBetRows(db: Queryable, rows: readonly BetRow[], table: string): Promise<number> {
  if (rows.length === 0) return 0;
  if (platformOf(db) === 'citus') {
    let written = 0;
    for (const slice of slices(rows, ROWS_PER_STATEMENT)) {
      const result = await db.query({
        text: upsertValuesSql(slice.length, table),
        values: rowMajor(slice.map(rowValues)),
      });
      written += result.rowCount ?? 0;
    }
    return written;
  }
  const result = await db.query({ text: upsertSql(table), values: upsertParams(rows) });
  return result.rowCount ?? 0;
}

export const SELECT_BET_ROWS = `
SELECT ${SELECT_ROW_COLUMNS}
FROM bets_view
WHERE (tenant_id, bet_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`;

/**
 * The same for Citus: rows whose tenant is in $1 and bet id in $2, a superset that readBetRows
 * filters by key. Citus pushes plain filters down to the tenants' shards; the join with unnest
 * above plans through the coordinator and ships the unnest to every shard.
 */
const SELECT_BET_ROWS_CITUS = `
SELECT ${SELECT_ROW_COLUMNS}
FROM bets_view
WHERE tenant_id = ANY($1::bigint[]) AND bet_id = ANY($2::text[])`;

/** The stored rows of these bets, keyed by `tenant_id:bet_id`. */
export async function readBetRows(db: Queryable, bets: readonly BetRef[]): Promise<Map<string, BetRow>> {
  const rows = new Map<string, BetRow>();
  if (bets.length === 0) return rows;
  // Unnamed on purpose: PostgreSQL plans it for these keys each time (cheap). A named statement
  // switches to a generic plan cached per connection, and one made while the table was small (an
  // empty view being back-filled) stays a sequential scan as the table grows: the bench saw a
  // back-fill slow down within a minute, its reads soon costing more than the UPSERT.
  const citus = platformOf(db) === 'citus';
  const result = await db.query<{ tenant_id: number; bet_id: string }>(
    citus
      ? {
          text: SELECT_BET_ROWS_CITUS,
          values: [[...new Set(bets.map((b) => b.tenantId))], [...new Set(bets.map((b) => b.betId))]],
        }
      : { text: SELECT_BET_ROWS, values: [bets.map((b) => b.tenantId), bets.map((b) => b.betId)] },
  );
  const wanted = citus ? new Set(bets.map((b) => betKey(b.tenantId, b.betId))) : undefined;
  for (const r of result.rows) {
    const key = betKey(r.tenant_id, r.bet_id);
    if (!wanted || wanted.has(key)) rows.set(key, rowFromRead(r));
  }
  return rows;
}
