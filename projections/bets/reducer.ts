/**
 * The bets projection's pure core: what a bet looks like after its events. The worker, immediate
 * mode, rebuild and repair all write rows made here, so they cannot disagree.
 */
import { multiplyDecimals } from '../../src/events/decimal.js';
import { EVENT_TYPES, isKnownEventType, type BetEvent, type EventType } from '../../src/events/types.js';
import { EVENT_FOLDS, pathKeys, type DataPath, type PlacementReading } from './eventFolds.js';
import type { BetRow, BetStatus, ViewLeg } from './row.js';

type Data = Readonly<Record<string, unknown>>;
type Read<T> = (data: Data) => T;

/** A reader of the value at `path` (EVENT_FOLDS' paths), walked once per event, not split each time. */
function reader<T>(path: DataPath): Read<T> {
  const keys = pathKeys(path);
  if (keys.length === 1) return (data) => data[keys[0]!] as T;
  return (data) => {
    let value: unknown = data;
    for (const key of keys) value = (value as Data | undefined)?.[key];
    return value as T;
  };
}

interface Placement {
  readonly userId: string;
  readonly amount: string;
  readonly currency: string;
  readonly legs: readonly ViewLeg[];
  readonly channel: string | null;
}

function placementReader(p: PlacementReading): Read<Placement> {
  const userId = reader<string>(p.userId);
  const amount = reader<string>(p.amount);
  const currency = reader<string>(p.currency);
  const channel = p.channel === null ? () => null : reader<string | undefined>(p.channel);
  let legs: Read<ViewLeg[]>;
  if ('list' in p.legs) {
    const list = reader<ReadonlyArray<{ selection: string; odds: string; market?: string }>>(p.legs.list);
    legs = (data) =>
      list(data).map((l) => ({ selection: l.selection, odds: l.odds, market: l.market ?? null }));
  } else {
    const selection = reader<string>(p.legs.single.selection);
    const odds = reader<string>(p.legs.single.odds);
    legs = (data) => [{ selection: selection(data), odds: odds(data), market: null }];
  }
  return (data) => ({
    userId: userId(data),
    amount: amount(data),
    currency: currency(data),
    legs: legs(data),
    channel: channel(data) ?? null,
  });
}

/** EVENT_FOLDS made into readers, once. */
const FOLDS = new Map(
  EVENT_TYPES.map((type: EventType) => {
    const fold = EVENT_FOLDS[type];
    const status: Read<BetStatus> =
      typeof fold.status === 'string' ? () => fold.status as BetStatus : reader<BetStatus>(fold.status.field);
    return [
      type,
      {
        status,
        payout: fold.payout === undefined ? undefined : reader<string>(fold.payout),
        places: fold.places && placementReader(fold.places),
      },
    ];
  }),
);

/**
 * Applies one event, as EVENT_FOLDS declares. Fields an event does not carry survive from the
 * earlier state. The base row is one object literal with every field in a fixed order, then set in
 * place (no spreads of differently shaped objects): spreads made this the worker's top self-time
 * entry in a profile.
 */
export function applyEvent(state: BetRow | undefined, event: BetEvent): BetRow {
  const row: { -readonly [K in keyof BetRow]: BetRow[K] } = {
    tenantId: event.tenantId,
    betId: event.aggregateId,
    idempotencyKey: state ? state.idempotencyKey : null,
    userId: state ? state.userId : null,
    amount: state ? state.amount : null,
    odds: state ? state.odds : null,
    selection: state ? state.selection : null,
    currency: state ? state.currency : null,
    legs: state ? state.legs : null,
    legsCount: state ? state.legsCount : null,
    combinedOdds: state ? state.combinedOdds : null,
    channel: state ? state.channel : null,
    status: state ? state.status : 'placed',
    payout: state ? state.payout : null,
    version: event.version,
    lastEventType: event.eventType,
    placedAt: state ? state.placedAt : null,
    lastUpdatedTimestamp: event.timestamp,
  };
  const fold = FOLDS.get(event.eventType)!;
  const data = event.eventData as Data;
  if (fold.places) {
    const placement = fold.places(data);
    const single = placement.legs.length === 1 ? placement.legs[0]! : undefined;
    row.idempotencyKey = event.idempotencyKey;
    row.userId = placement.userId;
    row.amount = placement.amount;
    row.currency = placement.currency;
    row.legs = placement.legs;
    row.legsCount = placement.legs.length;
    row.combinedOdds = multiplyDecimals(placement.legs.map((l) => l.odds));
    row.odds = single ? single.odds : null;
    row.selection = single ? single.selection : null;
    row.channel = placement.channel;
    row.placedAt = event.timestamp;
  }
  row.status = fold.status(data);
  if (fold.payout) row.payout = fold.payout(data);
  return row;
}

/**
 * Folds events, which must be one bet's, in version order, onto `state` — up to the first event of
 * a type this version does not know (heldAt): the row stays at the last version it can read, and
 * never claims to be the fold of events it skipped.
 */
export function foldBet(events: readonly BetEvent[], state?: BetRow): BetRow | undefined {
  let row = state;
  for (const event of events) {
    if (!isKnownEventType(event.eventType)) break;
    row = applyEvent(row, event);
  }
  return row;
}

/** The first of these events whose type this version does not know, where its bet is held. */
export function heldAt(events: readonly BetEvent[]): BetEvent | undefined {
  return events.find((e) => !isKnownEventType(e.eventType));
}
