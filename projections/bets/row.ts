import type { Decimal, EventType } from '../../src/events/types.js';

export const BET_STATUSES = [
  'placed',
  'accepted',
  'rejected',
  'cancelled',
  'won',
  'lost',
  'void',
  'partially_won',
  'cashed_out',
] as const;
export type BetStatus = (typeof BET_STATUSES)[number];

/** A leg as bets_view holds it: market null where the event gave none. */
export interface ViewLeg {
  readonly selection: string;
  readonly odds: Decimal;
  readonly market: string | null;
}

/** One `bets_view` row, as the fold produces it (projected_at is set by the database). */
export interface BetRow {
  readonly tenantId: number;
  readonly betId: string;
  readonly idempotencyKey: string | null;
  readonly userId: string | null;
  readonly amount: Decimal | null;
  /** A single bet's odds and selection; null for an accumulator (more than one leg). */
  readonly odds: Decimal | null;
  readonly selection: string | null;
  readonly currency: string | null;
  /** Null on a row last written before migration 015 (until a rebuild folds it again). */
  readonly legs: readonly ViewLeg[] | null;
  readonly legsCount: number | null;
  /** The exact product of the legs' odds. */
  readonly combinedOdds: Decimal | null;
  readonly channel: string | null;
  readonly status: BetStatus;
  readonly payout: Decimal | null;
  readonly version: number;
  readonly lastEventType: EventType;
  /** Milliseconds since the epoch of the placing event; a timestamptz in the table. */
  readonly placedAt: number | null;
  readonly lastUpdatedTimestamp: number;
}

/**
 * A row written before migration 015 (by this release from such a row, or by an earlier release):
 * its legs are unknown, so it is no base to fold later events onto — a fold onto it would write its
 * NULL legs back, over a rebuild's. The bet is re-folded from its events instead, which heals it.
 */
export function lacksLegs(row: BetRow): boolean {
  return row.placedAt !== null && row.legsCount === null;
}
