/**
 * The fold in SQL, generated from the one declaration of what each event does (eventFolds.ts): the
 * rebuild's set-based fill of one chunk, and the database's own count of statuses. Written for a
 * hash aggregation instead of a sort: aggregates ordered by version would sort every event and
 * every bet (FILL_PLANNER_SETTINGS keeps the planner from sorting anyway): one pass over the chunk
 * instead of two sorts (docs/benchmarks.md, Rebuild).
 *
 * projected_at is the fill transaction's now(): a volatile clock_timestamp() made Citus repartition
 * every row through the coordinator instead of inserting on each shard.
 *
 * A bet with an event of a type this version does not know is left out (HAVING): the reducer holds
 * it at the last version it can read, and the rebuild folds those few through it (HELD_BETS_SQL).
 */
import { EVENT_TYPES, type EventType } from '../../src/events/types.js';
import { chunkFilter, type Chunk } from '../chunks.js';
import { WRITTEN_COLUMNS } from './columns.js';
import {
  EVENT_FOLDS,
  PAYING_TYPES,
  PLACING_TYPES,
  pathKeys,
  type DataPath,
  type PlacementReading,
} from './eventFolds.js';

/**
 * For the fill's transaction: the planner costs a sort and a group aggregation below a hash
 * aggregation of the same rows, and is wrong here (the bench's rebuild part shows both plans).
 */
export const FILL_PLANNER_SETTINGS = 'SET LOCAL enable_sort = off';

const FIRST = 'FILTER (WHERE version = 1)';
/** Sorts by version: ten digits hold any integer version. */
const VERSION_KEY = `lpad(version::text, 10, '0')`;

/** The value at a declared path of a jsonb document, as text or as jsonb. */
const pathText = (doc: string, path: DataPath) => `${doc} #>> '{${pathKeys(path).join(',')}}'`;
const pathJson = (doc: string, path: DataPath) => `${doc} #> '{${pathKeys(path).join(',')}}'`;

/** One expression per event type, chosen by `typeColumn`; one expression where all are the same. */
function byType(
  typeColumn: string,
  types: readonly EventType[],
  expression: (type: EventType) => string,
): string {
  const each = types.map((type) => [type, expression(type)] as const);
  if (each.every(([, e]) => e === each[0]![1])) return each[0]![1];
  // The searched form: Citus deparses a simple CASE inside an aggregate's argument wrongly.
  return `CASE ${each.map(([type, e]) => `WHEN ${typeColumn} = '${type}' THEN ${e}`).join(' ')} END`;
}

/** A placing event's legs as bets_view holds them (row.ts, ViewLeg): {selection, odds, market}. */
function legsJson(doc: string, legs: PlacementReading['legs']): string {
  if ('single' in legs) {
    return `jsonb_build_array(jsonb_build_object('selection', ${pathJson(doc, legs.single.selection)},
      'odds', ${pathJson(doc, legs.single.odds)}, 'market', NULL))`;
  }
  return `(SELECT jsonb_agg(jsonb_build_object('selection', l -> 'selection', 'odds', l -> 'odds',
      'market', l -> 'market') ORDER BY n) FROM jsonb_array_elements(${pathJson(doc, legs.list)}) WITH ORDINALITY AS e(l, n))`;
}

/** A field of the placement, read from the placing event's data `placed` as its type declares. */
function placement(read: (p: PlacementReading) => string): string {
  return byType('placed_type', PLACING_TYPES, (t) => read(EVENT_FOLDS[t].places!));
}

/** The bet's status after an event, as its type declares: fixed, or named by its data. */
const STATUS_AFTER = byType('event_type', EVENT_TYPES, (t) => {
  const status = EVENT_FOLDS[t].status;
  return typeof status === 'string' ? `'${status}'` : pathText('event_data', status.field);
});

const PAYOUT = byType('event_type', PAYING_TYPES, (t) => pathText('event_data', EVENT_FOLDS[t].payout!));

const SINGLE_LEG = 'jsonb_array_length(legs) = 1';

/**
 * Every bet of a chunk folded by the database, as EVENT_FOLDS declares, in WRITTEN_COLUMNS' names;
 * the parameters are the known types, then the chunk's.
 *
 * grouped: one row per bet. The latest event and the latest payout are plain max() of an array led
 * by the zero-padded version — versions are unique within a bet, so the first element decides, and
 * the rest of the array is that event's. The placing event (version 1) is carried whole, as text
 * (jsonb has no max()). No aggregate is ordered, so the events are hashed by bet once.
 * placed: the placement read as its type declares; folded: the row's columns.
 */
export function foldSql(chunk: Chunk): { text: string; values: unknown[] } {
  const filter = chunkFilter(chunk, 'aggregate_id', 2);
  return {
    text: `SELECT tenant_id, aggregate_id AS bet_id, idempotency_key, user_id, amount,
  CASE WHEN ${SINGLE_LEG} THEN (legs -> 0 ->> 'odds')::numeric(12,4) END AS odds,
  CASE WHEN ${SINGLE_LEG} THEN legs -> 0 ->> 'selection' END AS selection,
  currency, legs, jsonb_array_length(legs) AS legs_count,
  CASE WHEN ${SINGLE_LEG} THEN (legs -> 0 ->> 'odds')::numeric ELSE legs_combined_odds(legs) END AS combined_odds,
  channel, latest[4] AS status, settlement[2]::numeric(20,4) AS payout, version, latest[2] AS last_event_type,
  placed_at, latest[3]::bigint AS last_updated_timestamp, now() AS projected_at
FROM (
  SELECT tenant_id, aggregate_id, idempotency_key, latest, settlement, version, placed_at,
    ${placement((p) => pathText('placed', p.userId))} AS user_id,
    (${placement((p) => pathText('placed', p.amount))})::numeric(20,4) AS amount,
    ${placement((p) => pathText('placed', p.currency))} AS currency,
    ${placement((p) => (p.channel === null ? 'NULL' : pathText('placed', p.channel)))} AS channel,
    ${placement((p) => legsJson('placed', p.legs))} AS legs
  FROM (
    SELECT tenant_id, aggregate_id,
      max(idempotency_key) ${FIRST} AS idempotency_key,
      max(event_type) ${FIRST} AS placed_type,
      max(event_data::text) ${FIRST}::jsonb AS placed,
      max(ARRAY[${VERSION_KEY}, event_type, "timestamp"::text, ${STATUS_AFTER}] COLLATE "C") AS latest,
      max(ARRAY[${VERSION_KEY}, ${PAYOUT}] COLLATE "C")
        FILTER (WHERE event_type IN (${PAYING_TYPES.map((t) => `'${t}'`).join(', ')})) AS settlement,
      max(version) AS version,
      'epoch'::timestamptz + max("timestamp") ${FIRST} * interval '1 millisecond' AS placed_at
    FROM bet_events
    WHERE ${filter.sql}
    GROUP BY tenant_id, aggregate_id
    HAVING bool_and(event_type = ANY($1::text[]))
  ) grouped
) placed`,
    values: [EVENT_TYPES, ...filter.values],
  };
}

/** The rebuild's fill of one chunk of `table`: foldSql's rows, inserted. */
export function fillSql(table: string, chunk: Chunk): { text: string; values: unknown[] } {
  const fold = foldSql(chunk);
  return {
    text: `INSERT INTO ${table} (${WRITTEN_COLUMNS})\nSELECT ${WRITTEN_COLUMNS} FROM (${fold.text}) folded`,
    values: fold.values,
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
