/**
 * user_exposure's SQL: its change, the table that change is added to, and the set-based check and
 * repair against the sum over open bets in bets_view.
 */
import type { SummedTable } from '../projection.js';

/** A bet counts while it is open: placed or accepted (settled, cancelled, rejected, cashed out leave). */
const OPEN = `('placed', 'accepted')`;

/**
 * What a bet could pay out: its stake × the product of its legs' odds, rounded once per bet to the
 * column's 8 places (an accumulator's product has up to 80), so that sums of it stay exact. A row
 * last written before migration 015 has no combined odds: its one leg's odds are the same.
 */
const POTENTIAL_PAYOUT = `round(coalesce(amount, 0) * coalesce(combined_odds, odds, 0), 8)`;

/**
 * What a flush adds to. updated_at takes the column default, now(), through EXCLUDED: Citus
 * refuses a non-IMMUTABLE function in DO UPDATE SET, not in the row being inserted.
 */
export const EXPOSURE_SUMS: SummedTable = {
  table: 'user_exposure',
  key: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'user_id', bound: 'text' },
    { name: 'currency', bound: 'text' },
  ],
  sums: [
    { name: 'open_bets', bound: 'bigint' },
    { name: 'open_stake', bound: 'numeric' },
    { name: 'potential_payout', bound: 'numeric' },
  ],
  alsoSet: ['version = x.version + 1', 'updated_at = EXCLUDED.updated_at'],
  // A backlog's flush adds to about as many users as it writes bets (migration 018).
  staged: 'user_exposure_staged',
};

/**
 * The change, over `transitions` (TransitionFollower): +1 for a row that became open, −1 for one
 * that stopped being open, 0 otherwise, with its stake and potential payout; stake and odds never
 * change after a bet is placed (version 1), so the row as written also says what the row before
 * it counted. Exact: NUMERIC throughout.
 */
export const EXPOSURE_CHANGE = `
SELECT tenant_id, user_id, currency, d AS open_bets, coalesce(amount, 0) * d AS open_stake,
       ${POTENTIAL_PAYOUT} * d AS potential_payout
FROM (SELECT t.*, (t.status IN ${OPEN})::integer - coalesce((t.previous_status IN ${OPEN})::integer, 0) AS d
      FROM transitions t) moved
WHERE d <> 0 AND user_id IS NOT NULL AND currency IS NOT NULL`;

/**
 * What user_exposure must hold: the open bets of bets_view, summed (computed by the database). $1:
 * the tenants it is asked for, or NULL for all; every statement built on it takes that parameter.
 */
export const EXPOSURE_EXPECTED = `
SELECT tenant_id, user_id, currency, count(*)::bigint AS open_bets,
       sum(coalesce(amount, 0)) AS open_stake, sum(${POTENTIAL_PAYOUT}) AS potential_payout
FROM bets_view
WHERE status IN ${OPEN} AND user_id IS NOT NULL AND currency IS NOT NULL
  AND ($1::bigint[] IS NULL OR tenant_id = ANY($1::bigint[]))
GROUP BY tenant_id, user_id, currency`;

/**
 * Every (tenant, user, currency) whose stored exposure differs from the sum over its open bets; a
 * row at zero and no row are the same. Joined on tenant_id, so Citus runs it on colocated shards.
 */
export const EXPOSURE_MISMATCHES = `
SELECT coalesce(e.tenant_id, x.tenant_id) AS tenant_id, coalesce(e.user_id, x.user_id) AS user_id,
       coalesce(e.currency, x.currency) AS currency,
       coalesce(e.open_bets, 0) AS expected_open_bets, coalesce(x.open_bets, 0) AS open_bets,
       coalesce(e.open_stake, 0)::text AS expected_open_stake, coalesce(x.open_stake, 0)::text AS open_stake,
       coalesce(e.potential_payout, 0)::text AS expected_potential_payout,
       coalesce(x.potential_payout, 0)::text AS potential_payout
FROM (${EXPOSURE_EXPECTED}) e
FULL JOIN user_exposure x
  ON x.tenant_id = e.tenant_id AND x.user_id = e.user_id AND x.currency = e.currency
WHERE (coalesce(e.open_bets, 0) <> coalesce(x.open_bets, 0)
   OR coalesce(e.open_stake, 0) <> coalesce(x.open_stake, 0)
   OR coalesce(e.potential_payout, 0) <> coalesce(x.potential_payout, 0))
  AND ($1::bigint[] IS NULL OR coalesce(e.tenant_id, x.tenant_id) = ANY($1::bigint[]))
ORDER BY 1, 2, 3`;

/** Totals over all tenants, for the demo's printout: stored, summed from bets_view, and whether equal. */
export const EXPOSURE_TOTALS = `
WITH stored AS (SELECT coalesce(sum(open_bets), 0)::bigint AS open_bets, coalesce(sum(open_stake), 0) AS open_stake
                FROM user_exposure),
     expected AS (SELECT count(*)::bigint AS open_bets, coalesce(sum(amount), 0) AS open_stake
                  FROM bets_view WHERE status IN ${OPEN} AND user_id IS NOT NULL AND currency IS NOT NULL)
SELECT s.open_bets, s.open_stake::text AS open_stake, e.open_bets AS expected_open_bets,
       e.open_stake::text AS expected_open_stake,
       s.open_bets = e.open_bets AND s.open_stake = e.open_stake AS equal
FROM stored s, expected e`;
