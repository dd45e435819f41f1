/**
 * tenant_daily_revenue's SQL: its change, the table that change is added to, and the set-based
 * check and repair against what bets_view says each tenant, currency and day must hold.
 */
import type { SummedTable } from '../projection.js';

/** The statuses a bet's gross gaming revenue counts in. */
const CLOSED = `('won', 'lost', 'cashed_out', 'partially_won')`;

/** The UTC day of a time in milliseconds since the epoch (`bigint` column or expression). */
const utcDay = (ms: string) =>
  `(('epoch'::timestamptz + ${ms} * interval '1 millisecond') AT TIME ZONE 'UTC')::date`;

/** What a flush adds to. updated_at goes through EXCLUDED, as user_exposure's does. */
export const REVENUE_SUMS: SummedTable = {
  table: 'tenant_daily_revenue',
  key: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'currency', bound: 'text' },
    { name: 'day', bound: 'date' },
  ],
  sums: [
    { name: 'turnover', bound: 'numeric' },
    { name: 'ggr', bound: 'numeric' },
  ],
  alsoSet: ['version = x.version + 1', 'updated_at = EXCLUDED.updated_at'],
};

/**
 * The change, over `transitions` (TransitionFollower): what a bet adds where it stands now, less
 * what it added where it stood before the write —
 * - turnover: its stake, on the UTC day it was placed, once, when its row is new (stake, currency
 *   and placing time are fixed by version 1);
 * - ggr: stake − payout while it is closed as won, lost, cashed out or partially won, on the UTC
 *   day of the event that closed it (every event sets a bet's status, so while it is closed its
 *   last event is the one that closed it); taken back from its earlier closing day when a later
 *   event moves it. A row last written before migration 012 has no time of that event: its own is
 *   the best guess, and `projector repair` sets the table exactly after the upgrade.
 */
export const REVENUE_CHANGE = `
SELECT tenant_id, currency, (placed_at AT TIME ZONE 'UTC')::date AS day, amount AS turnover, 0 AS ggr
FROM transitions
WHERE previous_status IS NULL AND placed_at IS NOT NULL AND amount IS NOT NULL AND currency IS NOT NULL
UNION ALL
SELECT tenant_id, currency, ${utcDay('event_at')}, 0, amount - coalesce(payout, 0)
FROM transitions
WHERE status IN ${CLOSED} AND amount IS NOT NULL AND currency IS NOT NULL
UNION ALL
SELECT tenant_id, currency, ${utcDay('coalesce(previous_event_at, event_at)')}, 0, coalesce(previous_payout, 0) - amount
FROM transitions
WHERE previous_status IN ${CLOSED} AND amount IS NOT NULL AND currency IS NOT NULL`;

/**
 * What tenant_daily_revenue must hold, summed by the database from bets_view: each bet's stake on
 * the day it was placed, and stake − payout of each bet closed as won, lost, cashed out or
 * partially won on the day of its last event (the one that closed it).
 */
export const REVENUE_EXPECTED = `
SELECT tenant_id, currency, day, sum(turnover) AS turnover, sum(ggr) AS ggr
FROM (
  SELECT tenant_id, currency, (placed_at AT TIME ZONE 'UTC')::date AS day, amount AS turnover, 0 AS ggr
  FROM bets_view
  WHERE placed_at IS NOT NULL AND amount IS NOT NULL AND currency IS NOT NULL
    AND ($1::bigint[] IS NULL OR tenant_id = ANY($1::bigint[]))
  UNION ALL
  SELECT tenant_id, currency, ${utcDay('last_updated_timestamp')}, 0, amount - coalesce(payout, 0)
  FROM bets_view
  WHERE status IN ${CLOSED} AND amount IS NOT NULL AND currency IS NOT NULL
    AND ($1::bigint[] IS NULL OR tenant_id = ANY($1::bigint[]))
) contributions
GROUP BY tenant_id, currency, day`;

/**
 * Every (tenant, currency, day) whose stored revenue differs from what bets_view says; a row at
 * zero and no row are the same. Joined on tenant_id, so Citus runs it on colocated shards.
 */
export const REVENUE_MISMATCHES = `
SELECT coalesce(e.tenant_id, x.tenant_id) AS tenant_id, coalesce(e.currency, x.currency) AS currency,
       coalesce(e.day, x.day)::text AS day,
       coalesce(e.turnover, 0)::text AS expected_turnover, coalesce(x.turnover, 0)::text AS turnover,
       coalesce(e.ggr, 0)::text AS expected_ggr, coalesce(x.ggr, 0)::text AS ggr
FROM (${REVENUE_EXPECTED}) e
FULL JOIN tenant_daily_revenue x ON x.tenant_id = e.tenant_id AND x.currency = e.currency AND x.day = e.day
WHERE (coalesce(e.turnover, 0) <> coalesce(x.turnover, 0) OR coalesce(e.ggr, 0) <> coalesce(x.ggr, 0))
  AND ($1::bigint[] IS NULL OR coalesce(e.tenant_id, x.tenant_id) = ANY($1::bigint[]))
ORDER BY 1, 2, 3`;
