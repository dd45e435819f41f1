/**
 * Pure planning of a batch: group deliveries per bet, drop what the view already has, and decide
 * per bet whether the delivered events extend the stored row (apply) or leave a hole that only
 * the event store can fill (refold). Duplicates, redeliveries and reordering within a bet all end
 * here, so one UPSERT statement never touches the same row twice (Citus refuses that).
 */
import {
  betKey,
  deliveredBets,
  type BetEvent,
  type BetRef,
  type DeliveredBet,
} from '../../src/events/types.js';
import { foldBet } from './reducer.js';
import type { BetRow } from './row.js';

export type { BetRef };

/** Each bet's delivered events, one per version, in version order. */
export function groupByBet(events: readonly BetEvent[]): Map<string, BetEvent[]> {
  const groups = new Map<string, Map<number, BetEvent>>();
  for (const event of events) {
    const key = betKey(event.tenantId, event.aggregateId);
    let versions = groups.get(key);
    if (!versions) groups.set(key, (versions = new Map<number, BetEvent>()));
    // The store makes (bet, version) unique, so a second delivery of a version is the same event.
    if (!versions.has(event.version)) versions.set(event.version, event);
  }
  const sorted = new Map<string, BetEvent[]>();
  for (const [key, versions] of groups) {
    sorted.set(
      key,
      [...versions.values()].sort((a, b) => a.version - b.version),
    );
  }
  return sorted;
}

export type BetDecision =
  | { readonly kind: 'apply'; readonly row: BetRow; readonly skipped: number }
  | { readonly kind: 'stale'; readonly skipped: number }
  | { readonly kind: 'refold'; readonly bet: BetRef };

/** What to do with one bet's delivered events given its stored row. */
export function decideBet(stored: BetRow | undefined, events: readonly BetEvent[]): BetDecision {
  const storedVersion = stored?.version ?? 0;
  const fresh = events.filter((e) => e.version > storedVersion);
  const skipped = events.length - fresh.length;
  const first = fresh[0];
  if (!first) return { kind: 'stale', skipped };
  const contiguous = fresh.every((e, i) => e.version === storedVersion + 1 + i);
  if (!contiguous) return { kind: 'refold', bet: { tenantId: first.tenantId, betId: first.aggregateId } };
  const row = foldBet(fresh, stored);
  return row ? { kind: 'apply', row, skipped } : { kind: 'stale', skipped };
}

export interface BatchPlan {
  readonly rows: BetRow[];
  readonly refold: BetRef[];
  readonly staleEvents: number;
}

export function planBatch(events: readonly BetEvent[], stored: ReadonlyMap<string, BetRow>): BatchPlan {
  const rows: BetRow[] = [];
  const refold: BetRef[] = [];
  const groups = groupByBet(events);
  let delivered = 0;
  for (const betEvents of groups.values()) delivered += betEvents.length;
  // Versions delivered twice within this batch count as stale, like those the view already has.
  let staleEvents = events.length - delivered;
  for (const [key, betEvents] of groups) {
    const decision = decideBet(stored.get(key), betEvents);
    if (decision.kind === 'refold') refold.push(decision.bet);
    else {
      staleEvents += decision.skipped;
      if (decision.kind === 'apply') rows.push(decision.row);
    }
  }
  return { rows, refold, staleEvents };
}

export { deliveredBets, type DeliveredBet };

/**
 * Whether planning needs the bet's stored row when the caller does not already know it: not when
 * the delivery starts at version 1 — those events fold from nothing, and if the view is already
 * further the UPSERT's version guard refuses the write (which the caller then counts as stale).
 */
export function needsStoredRow(bet: DeliveredBet): boolean {
  return bet.firstVersion !== 1;
}
