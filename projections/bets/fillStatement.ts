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

/** The value at a declared path of a jsonb document, as text. */
const pathText = (doc: string, path: DataPath) => `${doc} #>> '{${pathKeys(path).join(',')}}'`;

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

/**
 * A field of the placement, read from the placing event's data as its type declares; types that do
 * not have it give NULL (left out of the CASE).
 */
function placement(read: (p: PlacementReading) => string | null): string {
  const types = PLACING_TYPES.filter((t) => read(EVENT_FOLDS[t].places!) !== null);
  if (types.length === 0) return 'NULL';
  const each = byType('event_type', types, (t) => read(EVENT_FOLDS[t].places!)!);
  return types.length === PLACING_TYPES.length
    ? each
    : `CASE WHEN event_type IN (${types.map((t) => `'${t}'`).join(', ')}) THEN ${each} END`;
}

/**
 * A field of the bet's leg where it has exactly one: spelled out by a V1-like placement, the first
 * of a list of one for a V2-like placement; NULL for an accumulator.
 */
function oneLeg(p: PlacementReading, field: 'selection' | 'odds'): string {
  if ('single' in p.legs) return pathText('event_data', p.legs.single[field]);
  const list = pathKeys(p.legs.list).join(',');
  return `CASE WHEN jsonb_array_length(event_data #> '{${list}}') = 1 THEN event_data #>> '{${list},0,${field}}' END`;
}

/**
 * A bet's legs as bets_view holds them (row.ts, ViewLeg: {selection, odds, market}): from the list
 * a V2-like placement carries (its text), or from the one leg a V1-like placement spells out.
 */
const LEGS = `CASE
    WHEN leg_list IS NOT NULL THEN (SELECT jsonb_agg(jsonb_build_object('selection', l -> 'selection',
      'odds', l -> 'odds', 'market', l -> 'market') ORDER BY n)
      FROM jsonb_array_elements(leg_list::jsonb) WITH ORDINALITY AS e(l, n))
    WHEN leg_odds IS NOT NULL THEN jsonb_build_array(jsonb_build_object('selection', leg_selection,
      'odds', leg_odds, 'market', NULL))
  END`;

/**
 * The placing event's (version 1) fields, each read as its type declares, as text: one array per
 * bet, so each event pays one FILTER for all of them. In the order of that array, each with the
 * type it is read as (text where none is given).
 */
const PLACING: ReadonlyArray<readonly [name: string, text: string, type?: string]> = [
  ['idempotency_key', 'idempotency_key'],
  ['user_id', placement((p) => pathText('event_data', p.userId))],
  ['amount', placement((p) => pathText('event_data', p.amount)), 'numeric(20,4)'],
  ['currency', placement((p) => pathText('event_data', p.currency))],
  ['channel', placement((p) => (p.channel === null ? null : pathText('event_data', p.channel)))],
  ['leg_list', placement((p) => ('list' in p.legs ? pathText('event_data', p.legs.list) : null))],
  ['leg_selection', placement((p) => oneLeg(p, 'selection'))],
  ['leg_odds', placement((p) => oneLeg(p, 'odds'))],
];

/** PLACING's fields out of the array, named. */
const PLACING_FIELDS = PLACING.map(
  ([name, , type], i) => `placement[${i + 1}]${type ? `::${type}` : ''} AS ${name}`,
).join(', ');

/** The known types, spelled in the statement: a type's number is its place in this array. */
const TYPES_ARRAY = `ARRAY[${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}]::text[]`;

/** An event's type as its place in EVENT_TYPES, from 1: a number compares cheaper than text. */
const TYPE_NUMBER = `array_position(${TYPES_ARRAY}, event_type)`;

/** The types whose status a field of their data names (a settlement's result), with that field. */
const NAMED_STATUS_TYPES = EVENT_TYPES.flatMap((type) => {
  const status = EVENT_FOLDS[type].status;
  return typeof status === 'string' ? [] : [{ type, field: status.field }];
});

/** The status a named-status type's event gives, read from its data. */
const NAMED_STATUS = `CASE ${NAMED_STATUS_TYPES.map(
  ({ type, field }) => `WHEN event_type = '${type}' THEN ${pathText('event_data', field)}`,
).join(' ')} END`;

/**
 * The bet's status after its latest event, from the latest event's type number: fixed by the type,
 * or, for a named-status type, the latest named-status event's (the latest event is that one).
 */
const STATUS_AFTER_LATEST = `CASE ${EVENT_TYPES.map((t, i) => {
  const status = EVENT_FOLDS[t].status;
  return `WHEN latest[3] = ${i + 1} THEN ${typeof status === 'string' ? `'${status}'` : 'named_status[2]'}`;
}).join(' ')} END`;

/** The latest named-status event's status, led by its version; NULL where no type names one. */
const NAMED_STATUS_AGGREGATE =
  NAMED_STATUS_TYPES.length === 0
    ? 'NULL::text[]'
    : `max(ARRAY[${VERSION_KEY}, ${NAMED_STATUS}] COLLATE "C")
      FILTER (WHERE event_type IN (${NAMED_STATUS_TYPES.map((n) => `'${n.type}'`).join(', ')}))`;

const PAYOUT = byType('event_type', PAYING_TYPES, (t) => pathText('event_data', EVENT_FOLDS[t].payout!));

/**
 * Every bet of a chunk folded by the database, as EVENT_FOLDS declares, in WRITTEN_COLUMNS' names;
 * the parameters are the known types, then the chunk's.
 *
 * grouped: one row per bet. The latest event is the max() of a number array led by the version
 * (then the timestamp and the type's number); the latest payout and the latest data-named status
 * are the max() of a text array led by the zero-padded version — versions are unique within a bet,
 * so the first element decides, and the rest of the array is that event's. The placing event's
 * (version 1) fields are one text array under one FILTER (version = 1), each read as its type
 * declares: the one leg's selection and odds where the bet has one leg, and a V2-like placement's
 * list of legs as text (jsonb has no max()). No aggregate is ordered, so the events are hashed by
 * bet once. placed: the placing fields out of their array.
 * The outer select names each of grouped's columns once: PostgreSQL inlines a projection's
 * expression wherever the level above names it, and a legs column named by five others was built
 * five times (the fill took more than twice as long).
 */
export function foldSql(
  chunk: Chunk,
  scope: { readonly tenantId?: number; readonly betIds?: readonly string[] } = {},
): { text: string; values: unknown[] } {
  const chunked = chunkFilter(chunk, 'aggregate_id', 2);
  // A tenant and its bets, where asked for: on Citus a tenant's fold is routed to its shard.
  const scoped: string[] = [chunked.sql];
  const values = [...chunked.values];
  if (scope.tenantId !== undefined) {
    values.push(scope.tenantId);
    scoped.push(`tenant_id = $${values.length + 1}::bigint`);
  }
  if (scope.betIds !== undefined) {
    values.push([...scope.betIds]);
    scoped.push(`aggregate_id = ANY($${values.length + 1}::text[])`);
  }
  const filter = { sql: scoped.join(' AND '), values };
  return {
    text: `SELECT tenant_id, aggregate_id AS bet_id, idempotency_key, user_id, amount,
  leg_odds::numeric(12,4) AS odds, leg_selection AS selection, currency, ${LEGS} AS legs,
  CASE WHEN leg_list IS NOT NULL THEN jsonb_array_length(leg_list::jsonb) WHEN leg_odds IS NOT NULL THEN 1 END
    AS legs_count,
  CASE WHEN leg_odds IS NOT NULL THEN leg_odds::numeric ELSE legs_combined_odds(leg_list::jsonb) END
    AS combined_odds,
  channel, ${STATUS_AFTER_LATEST} AS status, settlement[2]::numeric(20,4) AS payout, version,
  (${TYPES_ARRAY})[latest[3]] AS last_event_type, latest[2] AS last_updated_timestamp, placed_at,
  now() AS projected_at
FROM (SELECT ${PLACING_FIELDS},
  tenant_id, aggregate_id, latest, named_status, settlement, version, placed_at
FROM (
  SELECT tenant_id, aggregate_id,
    max(ARRAY[${PLACING.map(([, e]) => e).join(', ')}] COLLATE "C") ${FIRST} AS placement,
    max(ARRAY[version::bigint, "timestamp", ${TYPE_NUMBER}]) AS latest,
    ${NAMED_STATUS_AGGREGATE} AS named_status,
    max(ARRAY[${VERSION_KEY}, ${PAYOUT}] COLLATE "C")
      FILTER (WHERE event_type IN (${PAYING_TYPES.map((t) => `'${t}'`).join(', ')})) AS settlement,
    max(version) AS version,
    'epoch'::timestamptz + max("timestamp") ${FIRST} * interval '1 millisecond' AS placed_at
  FROM bet_events
  WHERE ${filter.sql}
  GROUP BY tenant_id, aggregate_id
  HAVING bool_and(event_type = ANY($1::text[]))
) grouped) placed`,
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
