/**
 * The event store's runtime SQL, each statement declared once; the dialect (src/db/dialect.ts)
 * gives it PostgreSQL's form (arrays and unnest) or Citus's (routed VALUES lists, a read per shard).
 */
import type { BulkInsert, KeyedRead } from '../db/dialect.js';
import { readKeyed } from '../db/keyedRead.js';
import { dialectOf } from '../db/platform.js';
import type { Queryable } from '../db/pool.js';
import { rowsPerStatement } from '../db/valuesList.js';
import { type BetEvent, type BetRef, type EventEnvelopeJson } from '../events/types.js';

const EVENT_COLUMNS = [
  { name: 'tenant_id', bound: 'bigint' },
  { name: 'aggregate_id', bound: 'text' },
  { name: 'version', bound: 'integer' },
  { name: 'idempotency_key', bound: 'text' },
  { name: 'event_type', bound: 'text' },
  { name: 'event_data', bound: 'jsonb' },
  { name: '"timestamp"', bound: 'bigint' },
  { name: 'previous_version', bound: 'integer' },
] as const;
const EVENTS_PER_STATEMENT = rowsPerStatement(EVENT_COLUMNS.length, 1_024);

/**
 * One insert for a whole batch. ON CONFLICT names only the idempotency key: a retried event is
 * silently skipped, while a different event claiming a taken version still violates the primary
 * key and fails the batch (optimistic concurrency), and one whose predecessor is not stored
 * violates the previous_version foreign key (migration 010) and fails it too.
 *
 * Prepared: Citus plans a named statement faster than the same text sent unnamed (its plan is
 * cached per connection); to keep the statements a connection holds few, a Citus slice is padded
 * to the next power of two by repeating its last event, which ON CONFLICT DO NOTHING skips (a
 * statement may meet the same key twice when it does nothing about it).
 */
const INSERT_EVENTS: BulkInsert = {
  name: 'bet_events_insert',
  into: 'bet_events',
  columns: EVENT_COLUMNS,
  tail: `ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
RETURNING tenant_id, idempotency_key, aggregate_id, version`,
  maxRowsPerStatement: EVENTS_PER_STATEMENT,
  padTo: (rows) => Math.min(EVENTS_PER_STATEMENT, 2 ** Math.ceil(Math.log2(rows))),
};

/** What the insert returns of each row it stored (a duplicate returns nothing). */
export type Inserted = { tenant_id: number; idempotency_key: string; aggregate_id: string; version: number };

/** An event as the parameters of one bet_events row, in the column order of the inserts. */
export function eventRowValues(e: BetEvent): unknown[] {
  return [
    e.tenantId,
    e.aggregateId,
    e.version,
    e.idempotencyKey,
    e.eventType,
    JSON.stringify(e.eventData),
    e.timestamp,
    e.version > 1 ? e.version - 1 : null,
  ];
}

/**
 * Inserts a batch, skipping events whose idempotency key is stored; returns the keys inserted with
 * the bet and version each was stored under (in no particular order: match by them).
 */
export function insertEvents(db: Queryable, events: readonly BetEvent[]): Promise<Inserted[]> {
  if (events.length === 0) return Promise.resolve([]);
  // Every statement is sent before anything is awaited: a pipelined caller keeps one round trip.
  const sent = dialectOf(db)
    .insertRows(INSERT_EVENTS, events.map(eventRowValues))
    .map((statement) => db.query<Inserted>(statement));
  return Promise.all(sent).then((results) => results.flatMap((r) => r.rows));
}

/** An event's position, as a keyed read of bet_events names it: (tenant, bet, version). */
export const EVENT_POSITION: KeyedRead['keys'] = [
  { name: 'tenant_id', bound: 'bigint' },
  { name: 'aggregate_id', bound: 'text' },
  { name: 'version', bound: 'integer' },
];

/** Which of these (bet, version) positions are taken, and by which idempotency key. */
const SELECT_POSITIONS: KeyedRead = {
  columns: 'tenant_id, aggregate_id, version, idempotency_key',
  from: 'bet_events',
  keys: EVENT_POSITION,
};

export interface TakenPosition {
  tenant_id: number;
  aggregate_id: string;
  version: number;
  idempotency_key: string;
}

export async function selectPositions(
  db: Queryable,
  positions: ReadonlyArray<{ tenantId: number; betId: string; version: number }>,
): Promise<TakenPosition[]> {
  if (positions.length === 0) return [];
  return readKeyed<TakenPosition>(
    db,
    SELECT_POSITIONS,
    positions.map((p) => [p.tenantId, p.betId, p.version]),
    (r) => [r.tenant_id, r.aggregate_id, r.version],
  );
}

/** An event from its bet_events row (the table form, EventEnvelopeJson). */
export function eventFromRow(row: EventEnvelopeJson): BetEvent {
  return {
    tenantId: row.tenant_id,
    aggregateId: row.aggregate_id,
    version: row.version,
    idempotencyKey: row.idempotency_key,
    eventType: row.event_type,
    eventData: row.event_data,
    timestamp: row.timestamp,
  } as BetEvent;
}

const SELECT_EVENTS_OF_BETS: KeyedRead = {
  columns: 'tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp"',
  from: 'bet_events',
  keys: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'aggregate_id', bound: 'text' },
  ],
  orderBy: 'ORDER BY tenant_id, aggregate_id, version',
};

/** Every stored event of these bets, each bet's together and in version order. */
export async function selectEventsOfBets(db: Queryable, bets: readonly BetRef[]): Promise<BetEvent[]> {
  if (bets.length === 0) return [];
  const rows = await readKeyed<EventEnvelopeJson>(
    db,
    SELECT_EVENTS_OF_BETS,
    bets.map((b) => [b.tenantId, b.betId]),
    (r) => [r.tenant_id, r.aggregate_id],
  );
  return rows.map(eventFromRow);
}
