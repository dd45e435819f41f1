/**
 * The bets projection's pure core: what a bet looks like after its events. The worker, immediate
 * mode, rebuild and repair all write rows made here, so they cannot disagree.
 */
import type { BetEvent } from '../../src/events/types.js';
import type { BetRow } from './row.js';

const EMPTY_FIELDS = {
  idempotencyKey: null,
  userId: null,
  amount: null,
  odds: null,
  selection: null,
  currency: null,
  payout: null,
  placedAt: null,
} as const;

/** Applies one event. Fields an event does not carry survive from the earlier state. */
export function applyEvent(state: BetRow | undefined, event: BetEvent): BetRow {
  const base = {
    ...EMPTY_FIELDS,
    ...state,
    tenantId: event.tenantId,
    betId: event.aggregateId,
    version: event.version,
    lastEventType: event.eventType,
    lastUpdatedTimestamp: event.timestamp,
  };
  switch (event.eventType) {
    case 'V1_BET_PLACED': {
      const d = event.eventData;
      return {
        ...base,
        idempotencyKey: event.idempotencyKey,
        userId: d.user_id,
        amount: d.amount,
        odds: d.odds,
        selection: d.selection,
        currency: d.currency,
        status: 'placed',
        placedAt: event.timestamp,
      };
    }
    case 'V1_BET_ACCEPTED':
      return { ...base, status: 'accepted' };
    case 'V1_BET_REJECTED':
      return { ...base, status: 'rejected' };
    case 'V1_BET_CANCELLED':
      return { ...base, status: 'cancelled' };
    case 'V1_BET_SETTLED':
      return { ...base, status: event.eventData.result, payout: event.eventData.payout };
    case 'V1_BET_CASHED_OUT':
      return { ...base, status: 'cashed_out', payout: event.eventData.payout };
  }
}

/** Folds events, which must be one bet's, in version order, onto `state`. */
export function foldBet(events: readonly BetEvent[], state?: BetRow): BetRow | undefined {
  return events.reduce<BetRow | undefined>(applyEvent, state);
}
