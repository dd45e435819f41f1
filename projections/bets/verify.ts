/**
 * Checks of the view against the event store, in SQL only: a fold of bet_events computed by the
 * database independently of the reducer, to compare against what the projector wrote.
 */
import type { Queryable } from '../../src/db/pool.js';
import type { DifferingBet, VerifyScope } from '../projection.js';
import { ROW_COLUMNS } from './columns.js';
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

/** Every column a fold writes and the row must hold, but the key and the time of writing. */
const COMPARED = ROW_COLUMNS.map((c) => c.name).filter((name) => name !== 'tenant_id' && name !== 'bet_id');

/**
 * One tenant's rows (or some of its bets) against the database's own fold of their events
 * (foldSql, EVENT_FOLDS read as SQL, not the reducer), column by column. Bets held at an event of
 * a type this version does not know are left out (`projector lag` names them), and so are bets
 * whose view is behind only by events newer than `cutoffMs` (in flight).
 */
function differingSql(tenantId: number, betIds: readonly string[] | undefined, cutoffMs: number) {
  const fold = foldSql({ index: 0, of: 1 }, { tenantId, ...(betIds && { betIds }) });
  const p = fold.values.length;
  const differs = COMPARED.map((c) => `f.${c} IS DISTINCT FROM v.${c}`).join(' OR ');
  return {
    text: `WITH folded AS (${fold.text}),
viewed AS (
  SELECT ${COMPARED.map((c) => `v.${c}`).join(', ')}, v.tenant_id, v.bet_id FROM bets_view v
  WHERE v.tenant_id = $${p + 1}::bigint AND ($${p + 2}::text[] IS NULL OR v.bet_id = ANY($${p + 2}::text[]))
    AND NOT EXISTS (SELECT 1 FROM bet_events e WHERE e.tenant_id = v.tenant_id AND e.aggregate_id = v.bet_id
                    AND e.event_type <> ALL($1::text[])))
SELECT coalesce(f.tenant_id, v.tenant_id) AS tenant_id, coalesce(f.bet_id, v.bet_id) AS bet_id,
  f.version AS fold_version, v.version AS view_version,
  array_remove(ARRAY[${COMPARED.map((c) => `CASE WHEN f.${c} IS DISTINCT FROM v.${c} THEN '${c}' END`).join(', ')}], NULL)
    AS columns
FROM folded f
FULL JOIN viewed v ON v.tenant_id = f.tenant_id AND v.bet_id = f.bet_id
WHERE (${differs})
  AND NOT coalesce(f.last_updated_timestamp > $${p + 3}::bigint AND coalesce(v.version, 0) < f.version, false)
ORDER BY 2`,
    values: [...fold.values, tenantId, betIds ? [...betIds] : null, cutoffMs],
  };
}

/** The tenants with events or rows. */
const TENANTS = `SELECT tenant_id FROM bet_events GROUP BY tenant_id
UNION SELECT tenant_id FROM bets_view GROUP BY tenant_id ORDER BY 1`;

/**
 * Every bet of these tenants (default: all) whose view row differs from the fold of its events,
 * tenant by tenant: on Citus each tenant's comparison runs on its shard alone.
 */
export async function differingBets(db: Queryable, scope: VerifyScope): Promise<DifferingBet[]> {
  const tenants =
    scope.tenantIds ?? (await db.query<{ tenant_id: number }>(TENANTS)).rows.map((r) => r.tenant_id);
  const found: DifferingBet[] = [];
  for (const tenantId of tenants) {
    const { rows } = await db.query<{
      tenant_id: number;
      bet_id: string;
      fold_version: number | null;
      view_version: number | null;
      columns: string[];
    }>(differingSql(tenantId, scope.betIds, scope.cutoffMs));
    for (const r of rows) {
      found.push({
        tenantId: r.tenant_id,
        betId: r.bet_id,
        foldVersion: r.fold_version,
        viewVersion: r.view_version,
        columns: r.columns,
      });
    }
  }
  return found;
}
