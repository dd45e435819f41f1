/**
 * The bets projection's pure core: what a bet looks like after its events. The worker, immediate
 * mode, rebuild and repair all write rows made here, so they cannot disagree.
 */
import { isKnownEventType, type BetEvent } from '../../src/events/types.js';
import type { BetRow } from './row.js';

/**
 * Applies one event. Fields an event does not carry survive from the earlier state. The base row
 * is one object literal with every field in a fixed order, then set in place (no spreads of
 * differently shaped objects): spreads made this the worker's top self-time entry in a profile.
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
    status: state ? state.status : 'placed',
    payout: state ? state.payout : null,
    version: event.version,
    lastEventType: event.eventType,
    placedAt: state ? state.placedAt : null,
    lastUpdatedTimestamp: event.timestamp,
  };
  switch (event.eventType) {
    case 'V1_BET_PLACED': {
      const d = event.eventData;
      row.idempotencyKey = event.idempotencyKey;
      row.userId = d.user_id;
      row.amount = d.amount;
      row.odds = d.odds;
      row.selection = d.selection;
      row.currency = d.currency;
      row.status = 'placed';
      row.placedAt = event.timestamp;
      break;
    }
    case 'V1_BET_ACCEPTED':
      row.status = 'accepted';
      break;
    case 'V1_BET_REJECTED':
      row.status = 'rejected';
      break;
    case 'V1_BET_CANCELLED':
      row.status = 'cancelled';
      break;
    case 'V1_BET_SETTLED':
      row.status = event.eventData.result;
      row.payout = event.eventData.payout;
      break;
    case 'V1_BET_CASHED_OUT':
      row.status = 'cashed_out';
      row.payout = event.eventData.payout;
      break;
  }
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
