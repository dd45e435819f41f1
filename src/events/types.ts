/**
 * The event model (docs/architecture.md): one envelope, the event types this version reads (V1 and
 * their V2 successors, which stored V1 events are read as: projections/bets/eventFolds.ts). Money and odds
 * are always decimal strings.
 */

export const EVENT_TYPES = [
  'V1_BET_PLACED',
  'V2_BET_PLACED',
  'V1_BET_ACCEPTED',
  'V1_BET_REJECTED',
  'V1_BET_CANCELLED',
  'V1_BET_SETTLED',
  'V2_BET_SETTLED',
  'V1_BET_CASHED_OUT',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Whether this version knows how an event of `type` folds. A newer producer may store types this
 * version does not know yet (a rolling upgrade): their bets are held, never folded past them.
 */
export function isKnownEventType(type: string): type is EventType {
  return (EVENT_TYPES as readonly string[]).includes(type);
}

export type Decimal = string;
export type SettlementResult = 'won' | 'lost' | 'void';
export const SETTLEMENT_OUTCOMES = ['won', 'lost', 'void', 'partially_won'] as const;
export type SettlementOutcome = (typeof SETTLEMENT_OUTCOMES)[number];

export interface BetPlacedData {
  user_id: string;
  amount: Decimal;
  odds: Decimal;
  selection: string;
  currency: string;
}
/** One selection of a bet: an accumulator has 2 to 20, a single bet one. */
export interface Leg {
  selection: string;
  odds: Decimal;
  market?: string;
}
export interface BetPlacedV2Data {
  user_id: string;
  stake: { amount: Decimal; currency: string };
  legs: Leg[];
  channel?: string;
}
export interface BetSettledV2Data {
  outcome: SettlementOutcome;
  payout: Decimal;
}
export interface ReasonData {
  reason: string;
}
export interface BetSettledData {
  result: SettlementResult;
  payout: Decimal;
}
export interface BetCashedOutData {
  payout: Decimal;
}

export interface EventDataByType {
  V1_BET_PLACED: BetPlacedData;
  V2_BET_PLACED: BetPlacedV2Data;
  V1_BET_ACCEPTED: Record<string, never>;
  V1_BET_REJECTED: ReasonData;
  V1_BET_CANCELLED: ReasonData;
  V1_BET_SETTLED: BetSettledData;
  V2_BET_SETTLED: BetSettledV2Data;
  V1_BET_CASHED_OUT: BetCashedOutData;
}

interface Envelope<T extends EventType> {
  tenantId: number;
  aggregateId: string;
  version: number;
  idempotencyKey: string;
  eventType: T;
  eventData: EventDataByType[T];
  /** Milliseconds since the epoch, set by the producer. */
  timestamp: number;
}

export type BetEvent = { [T in EventType]: Envelope<T> }[EventType];

/** One bet: the event stream's aggregate, by its key (tenant_id, bet_id). */
export interface BetRef {
  readonly tenantId: number;
  readonly betId: string;
}

/** The wire and table form of an event (snake_case, as in `bet_events` and the Kafka value). */
export interface EventEnvelopeJson {
  tenant_id: number;
  aggregate_id: string;
  version: number;
  idempotency_key: string;
  event_type: EventType;
  event_data: object;
  timestamp: number;
}

export function toEnvelopeJson(event: BetEvent): EventEnvelopeJson {
  return {
    tenant_id: event.tenantId,
    aggregate_id: event.aggregateId,
    version: event.version,
    idempotency_key: event.idempotencyKey,
    event_type: event.eventType,
    event_data: event.eventData,
    timestamp: event.timestamp,
  };
}

export function betKey(tenantId: number, betId: string): string {
  return `${tenantId}:${betId}`;
}

/** A bet of a batch, with the lowest version the batch holds for it. */
export interface DeliveredBet extends BetRef {
  readonly firstVersion: number;
}

/**
 * The distinct bets of a batch, keyed by `tenant_id:bet_id`, each with its lowest version: the
 * store checks that version's predecessor, the projection whether it must read the stored row.
 */
export function deliveredBets(events: readonly BetEvent[]): Map<string, DeliveredBet> {
  const bets = new Map<string, DeliveredBet>();
  for (const e of events) {
    const key = betKey(e.tenantId, e.aggregateId);
    const seen = bets.get(key);
    if (!seen || e.version < seen.firstVersion) {
      bets.set(key, { tenantId: e.tenantId, betId: e.aggregateId, firstVersion: e.version });
    }
  }
  return bets;
}
