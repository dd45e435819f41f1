/**
 * Checks of the view against the event store, in SQL only: a fold of bet_events computed by the
 * database independently of the reducer, to compare against what the projector wrote.
 */
import type { Queryable } from '../../src/db/pool.js';

export const STATUS_COUNTS_FROM_VIEW = `
SELECT status, count(*)::bigint AS bets FROM bets_view GROUP BY status ORDER BY status`;

/** The status of each bet's latest event, straight from the event store. */
export const STATUS_COUNTS_FROM_EVENTS = `
SELECT CASE
         WHEN event_type = 'V1_BET_PLACED' THEN 'placed'
         WHEN event_type = 'V1_BET_ACCEPTED' THEN 'accepted'
         WHEN event_type = 'V1_BET_REJECTED' THEN 'rejected'
         WHEN event_type = 'V1_BET_CANCELLED' THEN 'cancelled'
         WHEN event_type = 'V1_BET_SETTLED' THEN event_data->>'result'
         WHEN event_type = 'V1_BET_CASHED_OUT' THEN 'cashed_out'
       END AS status,
       count(*)::bigint AS bets
FROM (SELECT DISTINCT ON (tenant_id, aggregate_id) event_type, event_data
      FROM bet_events ORDER BY tenant_id, aggregate_id, version DESC) latest
GROUP BY 1 ORDER BY 1`;

/** Bets whose view row is missing or not at the latest stored version. */
export const BETS_BEHIND = `
SELECT count(*)::bigint AS behind
FROM (SELECT tenant_id, aggregate_id, max(version) AS version FROM bet_events GROUP BY tenant_id, aggregate_id) e
LEFT JOIN bets_view v ON v.tenant_id = e.tenant_id AND v.bet_id = e.aggregate_id
WHERE v.version IS DISTINCT FROM e.version`;

export async function statusCounts(db: Queryable, source: 'view' | 'events'): Promise<Map<string, number>> {
  const { rows } = await db.query<{ status: string; bets: number }>(
    source === 'view' ? STATUS_COUNTS_FROM_VIEW : STATUS_COUNTS_FROM_EVENTS,
  );
  return new Map(rows.map((r) => [r.status, r.bets]));
}

export async function betsBehind(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ behind: number }>(BETS_BEHIND);
  return rows[0]?.behind ?? 0;
}
