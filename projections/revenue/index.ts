/**
 * tenant_daily_revenue — per tenant, currency and UTC day: turnover and gross gaming revenue. A
 * follower of bets_view: added to in bets_view's own transaction from the transitions its version
 * guard accepted, checked and repaired against what bets_view says (statements.ts).
 */
import type { Queryable } from '../../src/db/pool.js';
import type { FollowerScope, TransitionFollower } from '../projection.js';
import { checkOf, repairBySum, tenantsParameter } from '../sums.js';
import { REVENUE_CHANGE, REVENUE_EXPECTED, REVENUE_MISMATCHES, REVENUE_SUMS } from './statements.js';

export interface RevenueMismatch {
  readonly tenantId: number;
  readonly currency: string;
  readonly day: string;
  readonly expected: { turnover: string; ggr: string };
  readonly stored: { turnover: string; ggr: string };
}

/** Rows of tenant_daily_revenue that differ from what bets_view says they must hold. */
export async function revenueMismatches(db: Queryable, scope?: FollowerScope): Promise<RevenueMismatch[]> {
  const { rows } = await db.query<{
    tenant_id: number;
    currency: string;
    day: string;
    expected_turnover: string;
    turnover: string;
    expected_ggr: string;
    ggr: string;
  }>(REVENUE_MISMATCHES, [tenantsParameter(scope)]);
  return rows.map((r) => ({
    tenantId: Number(r.tenant_id),
    currency: r.currency,
    day: r.day,
    expected: { turnover: r.expected_turnover, ggr: r.expected_ggr },
    stored: { turnover: r.turnover, ggr: r.ggr },
  }));
}

export const revenueFollower: TransitionFollower = {
  name: REVENUE_SUMS.table,
  adds: REVENUE_SUMS,
  change: REVENUE_CHANGE,
  check: async (db, scope) =>
    checkOf(await revenueMismatches(db, scope), (m) => ({
      tenant: m.tenantId,
      currency: m.currency,
      day: m.day,
      turnover: m.stored.turnover,
      'expected turnover': m.expected.turnover,
      ggr: m.stored.ggr,
      'expected ggr': m.expected.ggr,
    })),
  repair: repairBySum(REVENUE_SUMS, REVENUE_EXPECTED),
};
