/**
 * tenant_daily_revenue — per tenant, currency and UTC day: turnover and gross gaming revenue. A
 * follower of bets_view: added to in bets_view's own transaction from the transitions its version
 * guard accepted, checked and repaired against what bets_view says (statements.ts).
 */
import { inTransaction, type Queryable } from '../../src/db/pool.js';
import type { TransitionFollower } from '../projection.js';
import {
  LOCK_REVENUE,
  REVENUE_CHANGE,
  REVENUE_MISMATCHES,
  REVENUE_SUMS,
  SET_REVENUE_TO_SUM,
  ZERO_REVENUE_WITHOUT_BETS,
} from './statements.js';

export interface RevenueMismatch {
  readonly tenantId: number;
  readonly currency: string;
  readonly day: string;
  readonly expected: { turnover: string; ggr: string };
  readonly stored: { turnover: string; ggr: string };
}

/** Rows of tenant_daily_revenue that differ from what bets_view says they must hold. */
export async function revenueMismatches(db: Queryable): Promise<RevenueMismatch[]> {
  const { rows } = await db.query<{
    tenant_id: number;
    currency: string;
    day: string;
    expected_turnover: string;
    turnover: string;
    expected_ggr: string;
    ggr: string;
  }>(REVENUE_MISMATCHES);
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
  async check(db) {
    const found = await revenueMismatches(db);
    return {
      differing: found.length,
      sample: found.slice(0, 10).map((m) => ({
        tenant: m.tenantId,
        currency: m.currency,
        day: m.day,
        turnover: m.stored.turnover,
        'expected turnover': m.expected.turnover,
        ggr: m.stored.ggr,
        'expected ggr': m.expected.ggr,
      })),
    };
  },
  repair: (pool) =>
    inTransaction(pool, async (client) => {
      await client.query(LOCK_REVENUE);
      const zeroed = await client.query(ZERO_REVENUE_WITHOUT_BETS);
      const summed = await client.query(SET_REVENUE_TO_SUM);
      return zeroed.rows.length + summed.rows.length;
    }),
};
