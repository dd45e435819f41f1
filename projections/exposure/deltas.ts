/**
 * user_exposure's change from a flush's accepted transitions, computed in exact integers: its one
 * statement of what a bet's move does to a user's exposure (the check and repair in statements.ts
 * state the total it must add up to, and the tests hold the two together).
 */
import { fromUnits, toUnits } from '../../src/events/decimal.js';
import type { Transition } from '../projection.js';

/** Stake is NUMERIC(20,4), odds NUMERIC(12,4): their product has 8 digits after the point. */
const STAKE_SCALE = 4;
const PAYOUT_SCALE = 8;

const OPEN = new Set(['placed', 'accepted']);

export interface ExposureDelta {
  readonly tenantId: number;
  readonly userId: string;
  readonly currency: string;
  readonly openBets: number;
  /** Exact decimal strings, possibly negative. */
  readonly openStake: string;
  readonly potentialPayout: string;
}

/**
 * One delta per (tenant, user, currency) that a transition moved, in key order (so two flushes
 * touching the same users lock their rows in the same order). A transition counts +1 when its row
 * became open, −1 when it stopped being open; stake and odds never change after version 1.
 */
export function exposureDeltas(transitions: readonly Transition[]): ExposureDelta[] {
  const sums = new Map<string, { t: Transition; bets: number; stake: bigint; payout: bigint }>();
  for (const t of transitions) {
    const d = (OPEN.has(t.status) ? 1 : 0) - (t.previous !== null && OPEN.has(t.previous.status) ? 1 : 0);
    if (d === 0 || t.userId === null || t.currency === null) continue;
    const stake = t.amount === null ? 0n : toUnits(t.amount, STAKE_SCALE);
    const odds = t.odds === null ? 0n : toUnits(t.odds, STAKE_SCALE);
    const key = JSON.stringify([t.tenantId, t.userId, t.currency]);
    const sum = sums.get(key) ?? { t, bets: 0, stake: 0n, payout: 0n };
    sum.bets += d;
    sum.stake += stake * BigInt(d);
    sum.payout += stake * odds * BigInt(d);
    sums.set(key, sum);
  }
  return [...sums.values()]
    .map(({ t, bets, stake, payout }) => ({
      tenantId: t.tenantId,
      userId: t.userId!,
      currency: t.currency!,
      openBets: bets,
      openStake: fromUnits(stake, STAKE_SCALE),
      potentialPayout: fromUnits(payout, PAYOUT_SCALE),
    }))
    .sort(
      (a, b) =>
        a.tenantId - b.tenantId ||
        (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0) ||
        (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
    );
}
