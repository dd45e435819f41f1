/**
 * The event store's runtime SQL. On PostgreSQL a batch binds one array per column and expands it
 * with unnest; on Citus the insert is a multi-row VALUES list, which Citus routes to the shards.
 */
import { platformOf } from '../db/platform.js';
import type { Queryable } from '../db/pool.js';
import { rowMajor, rowsPerStatement, slices, valuesList } from '../db/valuesList.js';
import { betKey, type BetEvent, type BetRef, type EventType } from '../events/types.js';

/**
 * One statement for a whole batch. ON CONFLICT names only the idempotency key: a retried event is
 * silently skipped, while a different event claiming a taken version still violates the primary
 * key and fails the batch (optimistic concurrency), and one whose predecessor is not stored
 * violates the previous_version foreign key (migration 010) and fails it too.
 */
const INSERT_EVENTS = `
INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp",
                        previous_version)
SELECT u.*, CASE WHEN u.version > 1 THEN u.version - 1 END
FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
  AS u(tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp")
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
RETURNING tenant_id, idempotency_key`;

const EVENT_VALUES = [
  '$::bigint',
  '$::text',
  '$::integer',
  '$::text',
  '$::text',
  '$::jsonb',
  '$::bigint',
  '$::integer',
];
const EVENTS_PER_STATEMENT = rowsPerStatement(EVENT_VALUES.length, 1_024);

/**
 * The Citus insert is a prepared (named) statement, which Citus plans faster than the same text
 * sent unnamed (its plan is cached per connection); to keep the statements a connection holds few, a slice is padded to
 * the next power of two by repeating its last event, which ON CONFLICT DO NOTHING skips (a
 * statement may meet the same key twice when it does nothing about it).
 */
function paddedTo(rows: number): number {
  return Math.min(EVENTS_PER_STATEMENT, 2 ** Math.ceil(Math.log2(rows)));
}

/** The same insert for Citus: rows as a VALUES list (see src/db/valuesList.ts). */
function insertEventsValuesSql(rows: number): string {
  return `
INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp",
                        previous_version)
VALUES ${valuesList(EVENT_VALUES, rows)}
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
RETURNING tenant_id, idempotency_key`;
}

type Inserted = { tenant_id: number; idempotency_key: string };

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
 * Inserts a batch, skipping events whose idempotency key is stored; returns the keys inserted (in
 * no particular order: match by key). The form is the platform's (INSERT_EVENTS or
 * insertEventsValuesSql), the meaning the same.
 */
export function insertEvents(db: Queryable, events: readonly BetEvent[]): Promise<Inserted[]> {
  if (events.length === 0) return Promise.resolve([]);
  // Every statement is sent before anything is awaited: a pipelined caller keeps one round trip.
  if (platformOf(db) === 'citus') {
    const sent = slices(events, EVENTS_PER_STATEMENT).map((slice) => {
      const rows = paddedTo(slice.length);
      const values = rowMajor(slice.map(eventRowValues));
      const last = eventRowValues(slice[slice.length - 1]!);
      for (let i = slice.length; i < rows; i++) values.push(...last);
      return db.query<Inserted>({
        name: `bet_events_insert_values_${rows}`,
        text: insertEventsValuesSql(rows),
        values,
      });
    });
    return Promise.all(sent).then((results) => results.flatMap((r) => r.rows));
  }
  return db
    .query<Inserted>({
      name: 'bet_events_insert',
      text: INSERT_EVENTS,
      values: [
        events.map((e) => e.tenantId),
        events.map((e) => e.aggregateId),
        events.map((e) => e.version),
        events.map((e) => e.idempotencyKey),
        events.map((e) => e.eventType),
        events.map((e) => JSON.stringify(e.eventData)),
        events.map((e) => e.timestamp),
      ],
    })
    .then((r) => r.rows);
}

/** Which of these (bet, version) positions are taken, and by which idempotency key. */
const SELECT_POSITIONS = `
SELECT tenant_id, aggregate_id, version, idempotency_key FROM bet_events
WHERE (tenant_id, aggregate_id, version) IN (SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[]))`;

/**
 * The same for Citus: array filters on tenant, bet and version, a superset of the positions asked
 * for (every tenant crossed with every bet and version) that selectPositions filters by key. Citus
 * pushes plain filters down to the tenants' shards; the join with unnest above it plans through the
 * coordinator and ships the unnest to every shard as an intermediate result.
 */
const SELECT_POSITIONS_CITUS = `
SELECT tenant_id, aggregate_id, version, idempotency_key FROM bet_events
WHERE tenant_id = ANY($1::bigint[]) AND aggregate_id = ANY($2::text[]) AND version = ANY($3::integer[])`;

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
  // Unnamed on purpose, like readBetRows: no generic plan cached from when the table was small.
  if (platformOf(db) === 'citus') {
    const result = await db.query<TakenPosition>({
      text: SELECT_POSITIONS_CITUS,
      values: [
        [...new Set(positions.map((p) => p.tenantId))],
        [...new Set(positions.map((p) => p.betId))],
        [...new Set(positions.map((p) => p.version))],
      ],
    });
    const wanted = new Set(positions.map((p) => `${betKey(p.tenantId, p.betId)}#${p.version}`));
    return result.rows.filter((r) => wanted.has(`${betKey(r.tenant_id, r.aggregate_id)}#${r.version}`));
  }
  const result = await db.query<TakenPosition>({
    text: SELECT_POSITIONS,
    values: [
      positions.map((p) => p.tenantId),
      positions.map((p) => p.betId),
      positions.map((p) => p.version),
    ],
  });
  return result.rows;
}

interface EventRow {
  tenant_id: number;
  aggregate_id: string;
  version: number;
  idempotency_key: string;
  event_type: EventType;
  event_data: object;
  timestamp: number;
}

export function eventFromRow(row: EventRow): BetEvent {
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

const SELECT_EVENTS_OF_BETS = `
SELECT tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp"
FROM bet_events
WHERE (tenant_id, aggregate_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
ORDER BY tenant_id, aggregate_id, version`;

/** The same for Citus: a superset by array filters, filtered by key (see SELECT_POSITIONS_CITUS). */
const SELECT_EVENTS_OF_BETS_CITUS = `
SELECT tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp"
FROM bet_events
WHERE tenant_id = ANY($1::bigint[]) AND aggregate_id = ANY($2::text[])
ORDER BY tenant_id, aggregate_id, version`;

/** Every stored event of these bets, ordered by bet and version. */
export async function selectEventsOfBets(db: Queryable, bets: readonly BetRef[]): Promise<BetEvent[]> {
  if (bets.length === 0) return [];
  // Unnamed on purpose, like readBetRows: no generic plan cached from when the table was small.
  if (platformOf(db) === 'citus') {
    const result = await db.query<EventRow>({
      text: SELECT_EVENTS_OF_BETS_CITUS,
      values: [[...new Set(bets.map((b) => b.tenantId))], [...new Set(bets.map((b) => b.betId))]],
    });
    const wanted = new Set(bets.map((b) => betKey(b.tenantId, b.betId)));
    return result.rows.filter((r) => wanted.has(betKey(r.tenant_id, r.aggregate_id))).map(eventFromRow);
  }
  const result = await db.query<EventRow>({
    text: SELECT_EVENTS_OF_BETS,
    values: [bets.map((b) => b.tenantId), bets.map((b) => b.betId)],
  });
  return result.rows.map(eventFromRow);
}
