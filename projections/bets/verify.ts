/**
 * Checks of the view against the event store, in SQL only: a fold of bet_events computed by the
 * database independently of the reducer, to compare against what the projector wrote.
 */
import type { Queryable } from '../../src/db/pool.js';
import { foldSql } from './fillStatement.js';

const STATUS_COUNTS_FROM_VIEW = `
SELECT status, count(*)::bigint AS bets FROM bets_view GROUP BY status ORDER BY status`;

/** The status of every bet folded by the database from bet_events (foldSql), not by the reducer. */
function statusCountsFromEvents(): { text: string; values: unknown[] } {
  const fold = foldSql({ index: 0, of: 1 });
  return {
    text: `SELECT status, count(*)::bigint AS bets FROM (${fold.text}) folded GROUP BY status ORDER BY status`,
    values: fold.values,
  };
}

/** Bets whose view row is missing or not at the latest stored version. */
const BETS_BEHIND = `
SELECT count(*)::bigint AS behind
FROM (SELECT tenant_id, aggregate_id, max(version) AS version FROM bet_events GROUP BY tenant_id, aggregate_id) e
LEFT JOIN bets_view v ON v.tenant_id = e.tenant_id AND v.bet_id = e.aggregate_id
WHERE v.version IS DISTINCT FROM e.version`;

export async function statusCounts(db: Queryable, source: 'view' | 'events'): Promise<Map<string, number>> {
  const { rows } = await db.query<{ status: string; bets: number }>(
    source === 'view' ? STATUS_COUNTS_FROM_VIEW : statusCountsFromEvents(),
  );
  return new Map(rows.map((r) => [r.status, r.bets]));
}

export async function betsBehind(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ behind: number }>(BETS_BEHIND);
  return rows[0]?.behind ?? 0;
}
