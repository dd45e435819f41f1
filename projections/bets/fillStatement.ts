/**
 * The rebuild's set-based fill of one chunk: every bet folded from its events inside the database,
 * the same fold as the bets_fold view (migration 005) and the reducer, written for a hash
 * aggregation instead of a sort.
 *
 * bets_fold takes a bet's latest event with aggregates ordered by version (array_agg … ORDER BY),
 * which forces a sort of every event and a sort inside every bet. Here the latest event and the
 * latest settlement are plain max() of an array led by the zero-padded version — versions are
 * unique within a bet, so the first element decides, and the rest of the array is that event's —
 * and version 1's fields are max() … FILTER (version = 1) as in bets_fold. No aggregate is ordered,
 * so the events are hashed by bet once (FILL_PLANNER_SETTINGS keeps the planner from sorting
 * anyway): one pass over the chunk instead of two sorts (docs/benchmarks.md, Rebuild).
 *
 * projected_at is the fill transaction's now(): a volatile clock_timestamp() made Citus repartition
 * every row through the coordinator instead of inserting on each shard.
 *
 * A bet with an event of a type this version does not know is left out (HAVING): the reducer holds
 * it at the last version it can read, and the rebuild folds those few through it (HELD_BETS_SQL).
 */
import { EVENT_TYPES } from '../../src/events/types.js';
import { chunkFilter, type Chunk } from '../chunks.js';
import { WRITTEN_COLUMNS } from './columns.js';

/** The row's columns as every writer names them (columns.ts); the SELECT below gives them in order. */
const FILL_COLUMNS = WRITTEN_COLUMNS;

/**
 * For the fill's transaction: the planner costs a sort and a group aggregation below a hash
 * aggregation of the same rows, and is wrong here (the bench's rebuild part shows both plans).
 */
export const FILL_PLANNER_SETTINGS = 'SET LOCAL enable_sort = off';

const FIRST = 'FILTER (WHERE version = 1)';
/** Sorts by version: ten digits hold any integer version. */
const VERSION_KEY = `lpad(version::text, 10, '0')`;

export function fillSql(table: string, chunk: Chunk): { text: string; values: unknown[] } {
  const filter = chunkFilter(chunk, 'aggregate_id', 2);
  return {
    text: `INSERT INTO ${table} (${FILL_COLUMNS})
SELECT tenant_id, aggregate_id, idempotency_key, user_id, amount, odds, selection, currency,
  CASE
    WHEN latest[2] = 'V1_BET_PLACED' THEN 'placed'
    WHEN latest[2] = 'V1_BET_ACCEPTED' THEN 'accepted'
    WHEN latest[2] = 'V1_BET_REJECTED' THEN 'rejected'
    WHEN latest[2] = 'V1_BET_CANCELLED' THEN 'cancelled'
    WHEN latest[2] = 'V1_BET_SETTLED' THEN latest[4]
    WHEN latest[2] = 'V1_BET_CASHED_OUT' THEN 'cashed_out'
  END,
  settlement[2]::numeric(20,4), version, latest[2], placed_at, latest[3]::bigint, now()
FROM (
  SELECT tenant_id, aggregate_id,
    max(idempotency_key) ${FIRST} AS idempotency_key,
    max(event_data ->> 'user_id') ${FIRST} AS user_id,
    max((event_data ->> 'amount')::numeric(20,4)) ${FIRST} AS amount,
    max((event_data ->> 'odds')::numeric(12,4)) ${FIRST} AS odds,
    max(event_data ->> 'selection') ${FIRST} AS selection,
    max(event_data ->> 'currency') ${FIRST} AS currency,
    max(ARRAY[${VERSION_KEY}, event_type, "timestamp"::text, event_data ->> 'result'] COLLATE "C") AS latest,
    max(ARRAY[${VERSION_KEY}, event_data ->> 'payout'] COLLATE "C")
      FILTER (WHERE event_type IN ('V1_BET_SETTLED', 'V1_BET_CASHED_OUT')) AS settlement,
    max(version) AS version,
    'epoch'::timestamptz + max("timestamp") ${FIRST} * interval '1 millisecond' AS placed_at
  FROM bet_events
  WHERE ${filter.sql}
  GROUP BY tenant_id, aggregate_id
  HAVING bool_and(event_type = ANY($1::text[]))
) folded`,
    values: [EVENT_TYPES, ...filter.values],
  };
}

/** The bets of a chunk with an event of a type this version does not know: held, not filled. */
export function heldBetsSql(chunk: Chunk): { text: string; values: unknown[] } {
  const filter = chunkFilter(chunk, 'aggregate_id', 2);
  return {
    text: `SELECT DISTINCT tenant_id, aggregate_id AS bet_id FROM bet_events
WHERE event_type <> ALL($1::text[]) AND ${filter.sql}`,
    values: [EVENT_TYPES, ...filter.values],
  };
}
