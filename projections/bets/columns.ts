/**
 * The bets_view row, declared once: each column's name, the SQL type its value is bound as, which
 * field of the fold's row holds it, and — where they differ from the bound value — how the value
 * becomes the column and how the column is read back. The UPSERT's column list, its unnest and
 * VALUES forms, its DO UPDATE list, the read of stored rows and the rebuild's column list all follow
 * from this table; an integration test holds it to the table the migrations make.
 */
import type { BetRow } from './row.js';

export interface RowColumn {
  readonly name: string;
  /** The type the value is bound as (and unnest()'s array element type). */
  readonly bound: string;
  readonly field: keyof BetRow;
  /** The column's value from a bound parameter `p`, where not the parameter itself. */
  readonly write?: (p: string) => string;
  /** The expression a read selects (as the column's name), where not the column itself. */
  readonly read?: string;
  /** The bound value from the field's, where not the field itself. */
  readonly bind?: (value: never) => unknown;
  /** The column's COPY text from the bound value, where the column's type differs from the bound one. */
  readonly copy?: (bound: never) => string;
}

const MS_TO_TIMESTAMPTZ = (p: string) => `'epoch'::timestamptz + ${p} * interval '1 millisecond'`;

/** The fold's columns, in the order every statement binds them. */
export const ROW_COLUMNS: readonly RowColumn[] = [
  { name: 'tenant_id', bound: 'bigint', field: 'tenantId' },
  { name: 'bet_id', bound: 'text', field: 'betId' },
  { name: 'idempotency_key', bound: 'text', field: 'idempotencyKey' },
  { name: 'user_id', bound: 'text', field: 'userId' },
  { name: 'amount', bound: 'numeric', field: 'amount', read: 'amount::text' },
  { name: 'odds', bound: 'numeric', field: 'odds', read: 'odds::text' },
  { name: 'selection', bound: 'text', field: 'selection' },
  { name: 'currency', bound: 'text', field: 'currency' },
  // A JavaScript array bound as is would become a PostgreSQL array literal: jsonb goes as its text.
  {
    name: 'legs',
    bound: 'jsonb',
    field: 'legs',
    bind: (legs: object | null) => legs && JSON.stringify(legs),
  },
  { name: 'legs_count', bound: 'integer', field: 'legsCount' },
  { name: 'combined_odds', bound: 'numeric', field: 'combinedOdds', read: 'combined_odds::text' },
  { name: 'channel', bound: 'text', field: 'channel' },
  { name: 'status', bound: 'text', field: 'status' },
  { name: 'payout', bound: 'numeric', field: 'payout', read: 'payout::text' },
  { name: 'version', bound: 'integer', field: 'version' },
  { name: 'last_event_type', bound: 'text', field: 'lastEventType' },
  {
    name: 'placed_at',
    bound: 'bigint',
    field: 'placedAt',
    write: MS_TO_TIMESTAMPTZ,
    copy: (ms: number) => new Date(ms).toISOString(),
    read: '(extract(epoch FROM placed_at) * 1000)::bigint',
  },
  { name: 'last_updated_timestamp', bound: 'bigint', field: 'lastUpdatedTimestamp' },
];

/**
 * Written by the database, not the fold: when the row was written. Where Citus runs the UPSERT on
 * the shards (a staged batch), the start of that statement: a volatile clock there would pull every
 * row through the coordinator.
 */
export const WRITTEN_AT = {
  name: 'projected_at',
  value: 'clock_timestamp()',
  onShards: 'statement_timestamp()',
} as const;

/**
 * Kept by the UPSERT itself, not the fold: what the row was before the write that last changed it —
 * the `previous_*` columns of a transition (projections/projection.ts), NULL on insert. `value` is
 * the assignment's expression, `v` being the stored row. The payout and the last event's time are
 * kept only where the row had a payout (settled or cashed out, the only rows whose later moves a
 * follower must take back): every other update stays as narrow as before (a wider row cost the
 * UPSERT about a sixth of its speed, docs/benchmarks.md).
 */
export const PREVIOUS_COLUMNS: ReadonlyArray<{ readonly name: string; readonly value: string }> = [
  { name: 'previous_status', value: 'v.status' },
  { name: 'previous_payout', value: 'v.payout' },
  { name: 'previous_event_at', value: 'CASE WHEN v.payout IS NOT NULL THEN v.last_updated_timestamp END' },
];

/**
 * What the UPSERT returns of each row it accepted: the relation `transitions` its followers read
 * (TRANSITION_RELATION). Plain columns only: Citus refuses non-immutable expressions in RETURNING.
 */
export const TRANSITION_RETURNING = [
  'tenant_id',
  'bet_id',
  'user_id',
  'currency',
  'amount',
  'combined_odds',
  'odds',
  'status',
  'payout',
  'placed_at',
  'last_updated_timestamp AS event_at',
  ...PREVIOUS_COLUMNS.map((c) => c.name),
].join(', ');

/** Every column a writer of the row names, in order. */
export const WRITTEN_COLUMNS = [...ROW_COLUMNS.map((c) => c.name), WRITTEN_AT.name].join(', ');

/** The bound values of one row, in ROW_COLUMNS' order. */
export function rowValues(row: BetRow): unknown[] {
  const values = new Array<unknown>(ROW_COLUMNS.length);
  for (let i = 0; i < ROW_COLUMNS.length; i++) {
    const column = ROW_COLUMNS[i]!;
    const value = row[column.field];
    values[i] = column.bind ? column.bind(value as never) : value;
  }
  return values;
}

/** A row as a read returns it (`SELECT_ROW_COLUMNS`), as the fold's row. */
export function rowFromRead(read: Readonly<Record<string, unknown>>): BetRow {
  const row: Record<string, unknown> = {};
  for (const c of ROW_COLUMNS) row[c.field] = read[c.name];
  return row as unknown as BetRow;
}

/** The select list of a read of whole rows. */
export const SELECT_ROW_COLUMNS = ROW_COLUMNS.map((c) => (c.read ? `${c.read} AS ${c.name}` : c.name)).join(
  ', ',
);
