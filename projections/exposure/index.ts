/**
 * user_exposure — per tenant, user and currency: open bets, open stake, potential payout. A follower
 * of bets_view: added to in bets_view's own transaction from the transitions its version guard
 * accepted, so every writer of bets_view keeps it exact. Checked and repaired against the sum over
 * open bets in bets_view.
 */
import type { Pool, Queryable } from '../../src/db/pool.js';
import type { FollowerScope, TransitionFollower } from '../projection.js';
import { checkOf, repairBySum, tenantsParameter } from '../sums.js';
import {
  EXPOSURE_CHANGE,
  EXPOSURE_EXPECTED,
  EXPOSURE_MISMATCHES,
  EXPOSURE_SUMS,
  EXPOSURE_TOTALS,
} from './statements.js';

export interface ExposureMismatch {
  readonly tenantId: number;
  readonly userId: string;
  readonly currency: string;
  readonly expected: { openBets: number; openStake: string; potentialPayout: string };
  readonly stored: { openBets: number; openStake: string; potentialPayout: string };
}

/** Rows of user_exposure that differ from the sum over open bets in bets_view. */
export async function exposureMismatches(db: Queryable, scope?: FollowerScope): Promise<ExposureMismatch[]> {
  const { rows } = await db.query<{
    tenant_id: number;
    user_id: string;
    currency: string;
    expected_open_bets: number;
    open_bets: number;
    expected_open_stake: string;
    open_stake: string;
    expected_potential_payout: string;
    potential_payout: string;
  }>(EXPOSURE_MISMATCHES, [tenantsParameter(scope)]);
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    userId: r.user_id,
    currency: r.currency,
    expected: {
      openBets: r.expected_open_bets,
      openStake: r.expected_open_stake,
      potentialPayout: r.expected_potential_payout,
    },
    stored: { openBets: r.open_bets, openStake: r.open_stake, potentialPayout: r.potential_payout },
  }));
}

export interface ExposureTotals {
  readonly openBets: number;
  readonly openStake: string;
  readonly expectedOpenBets: number;
  readonly expectedOpenStake: string;
  /** Compared as numbers by the database: "0.0000" and "0" are equal. */
  readonly equal: boolean;
}

export async function exposureTotals(db: Queryable): Promise<ExposureTotals> {
  const { rows } = await db.query<{
    open_bets: number;
    open_stake: string;
    expected_open_bets: number;
    expected_open_stake: string;
    equal: boolean;
  }>(EXPOSURE_TOTALS);
  const r = rows[0]!;
  return {
    openBets: r.open_bets,
    openStake: r.open_stake,
    expectedOpenBets: r.expected_open_bets,
    expectedOpenStake: r.expected_open_stake,
    equal: r.equal,
  };
}

/**
 * Brings user_exposure to the sum over open bets in bets_view, set-based, beside running flushes
 * (sums.ts, repairBySum); returns the rows changed. Also the rebuild: after bets_view is
 * rebuilt, or to fill the table from scratch.
 */
export const repairExposure: (pool: Pool, scope?: FollowerScope) => Promise<number> = repairBySum(
  EXPOSURE_SUMS,
  EXPOSURE_EXPECTED,
);

export const exposureFollower: TransitionFollower = {
  name: EXPOSURE_SUMS.table,
  adds: EXPOSURE_SUMS,
  change: EXPOSURE_CHANGE,
  check: async (db, scope) =>
    checkOf(await exposureMismatches(db, scope), (m) => ({
      tenant: m.tenantId,
      user: m.userId,
      currency: m.currency,
      'open bets': m.stored.openBets,
      expected: m.expected.openBets,
      'open stake': m.stored.openStake,
      'expected stake': m.expected.openStake,
      'potential payout': m.stored.potentialPayout,
      'expected payout': m.expected.potentialPayout,
    })),
  repair: repairExposure,
};
