/**
 * tenant_daily_revenue's change from a flush's accepted transitions, in exact integers: what a bet
 * adds where it stands now, less what it added where it stood before the write.
 *
 * - turnover: its stake, on the UTC day it was placed — once, when its row is new (stake, currency
 *   and placing time are fixed by version 1);
 * - ggr: stake − payout while it is closed as won, lost, cashed out or partially won, on the UTC day
 *   of the event that closed it. Every event sets a bet's status, so while the status is one of
 *   those, the row's last event is the one that closed it.
 */
import { fromUnits, toUnits } from '../../src/events/decimal.js';
import type { Transition } from '../projection.js';

/** Stake and payout are NUMERIC(20,4). */
const SCALE = 4;

/** The statuses a bet's gross gaming revenue counts in. */
export const CLOSED_FOR_REVENUE: ReadonlySet<string> = new Set([
  'won',
  'lost',
  'cashed_out',
  'partially_won',
]);

export interface RevenueDelta {
  readonly tenantId: number;
  readonly currency: string;
  /** The UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  /** Exact decimal strings, possibly negative. */
  readonly turnover: string;
  readonly ggr: string;
}

/** The UTC date of a time in milliseconds since the epoch. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** One delta per (tenant, currency, day) the transitions moved, in key order. */
export function revenueDeltas(transitions: readonly Transition[]): RevenueDelta[] {
  const sums = new Map<
    string,
    { tenantId: number; currency: string; day: string; turnover: bigint; ggr: bigint }
  >();
  const add = (t: Transition, ms: number, turnover: bigint, ggr: bigint) => {
    const day = utcDay(ms);
    const key = JSON.stringify([t.tenantId, t.currency, day]);
    const sum = sums.get(key) ?? { tenantId: t.tenantId, currency: t.currency!, day, turnover: 0n, ggr: 0n };
    sum.turnover += turnover;
    sum.ggr += ggr;
    sums.set(key, sum);
  };
  for (const t of transitions) {
    if (t.currency === null || t.amount === null) continue;
    const stake = toUnits(t.amount, SCALE);
    const payout = (value: string | null) => (value === null ? 0n : toUnits(value, SCALE));
    if (t.previous === null && t.placedAt !== null) add(t, t.placedAt, stake, 0n);
    if (CLOSED_FOR_REVENUE.has(t.status)) add(t, t.eventAt, 0n, stake - payout(t.payout));
    const before = t.previous;
    // A row last written before migration 012 has no time of its last event: its own is the best
    // guess, and `projector repair` sets the table exactly after an upgrade (docs/upgrading.md).
    if (before && CLOSED_FOR_REVENUE.has(before.status)) {
      add(t, before.eventAt ?? t.eventAt, 0n, payout(before.payout) - stake);
    }
  }
  return [...sums.values()]
    .filter((s) => s.turnover !== 0n || s.ggr !== 0n)
    .map((s) => ({
      tenantId: s.tenantId,
      currency: s.currency,
      day: s.day,
      turnover: fromUnits(s.turnover, SCALE),
      ggr: fromUnits(s.ggr, SCALE),
    }))
    .sort(
      (a, b) =>
        a.tenantId - b.tenantId ||
        (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0) ||
        (a.day < b.day ? -1 : a.day > b.day ? 1 : 0),
    );
}
