import type { Decimal, EventType } from '../../src/events/types.js';

export const BET_STATUSES = [
  'placed',
  'accepted',
  'rejected',
  'cancelled',
  'won',
  'lost',
  'void',
  'cashed_out',
] as const;
export type BetStatus = (typeof BET_STATUSES)[number];

/** One `bets_view` row, as the fold produces it (projected_at is set by the database). */
export interface BetRow {
  readonly tenantId: number;
  readonly betId: string;
  readonly idempotencyKey: string | null;
  readonly userId: string | null;
  readonly amount: Decimal | null;
  readonly odds: Decimal | null;
  readonly selection: string | null;
  readonly currency: string | null;
  readonly status: BetStatus;
  readonly payout: Decimal | null;
  readonly version: number;
  readonly lastEventType: EventType;
  /** Milliseconds since the epoch of the placing event; a timestamptz in the table. */
  readonly placedAt: number | null;
  readonly lastUpdatedTimestamp: number;
}
