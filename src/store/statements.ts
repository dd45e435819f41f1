/** The event store's runtime SQL. Batches bind one array per column and expand them with unnest. */
import type { Queryable } from '../db/pool.js';
import type { BetEvent, EventType } from '../events/types.js';
import type { BetRef } from '../../projections/bets/plan.js';

/**
 * One statement for a whole batch. ON CONFLICT names only the idempotency key: a retried event is
 * silently skipped, while a different event claiming a taken version still violates the primary
 * key and fails the batch (optimistic concurrency).
 */
export const INSERT_EVENTS = `
INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp")
SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
RETURNING tenant_id, idempotency_key`;

export async function insertEvents(
  db: Queryable,
  events: readonly BetEvent[],
): Promise<Array<{ tenant_id: number; idempotency_key: string }>> {
  const result = await db.query<{ tenant_id: number; idempotency_key: string }>({
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
  });
  return result.rows;
}

/** Which of these (bet, version) positions are taken, and by which idempotency key. */
export const SELECT_POSITIONS = `
SELECT tenant_id, aggregate_id, version, idempotency_key FROM bet_events
WHERE (tenant_id, aggregate_id, version) IN (SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[]))`;

export interface Position {
  tenant_id: number;
  aggregate_id: string;
  version: number;
  idempotency_key: string;
}

export async function selectPositions(
  db: Queryable,
  positions: ReadonlyArray<{ tenantId: number; betId: string; version: number }>,
): Promise<Position[]> {
  if (positions.length === 0) return [];
  // Unnamed on purpose, like readBetRows: no generic plan cached from when the table was small.
  const result = await db.query<Position>({
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

export const SELECT_EVENTS_OF_BETS = `
SELECT tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp"
FROM bet_events
WHERE (tenant_id, aggregate_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
ORDER BY tenant_id, aggregate_id, version`;

/** Every stored event of these bets, ordered by bet and version. */
export async function selectEventsOfBets(db: Queryable, bets: readonly BetRef[]): Promise<BetEvent[]> {
  if (bets.length === 0) return [];
  // Unnamed on purpose, like readBetRows: no generic plan cached from when the table was small.
  const result = await db.query<EventRow>({
    text: SELECT_EVENTS_OF_BETS,
    values: [bets.map((b) => b.tenantId), bets.map((b) => b.betId)],
  });
  return result.rows.map(eventFromRow);
}
