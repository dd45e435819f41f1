/**
 * `projector rebuild --tenant N`: one tenant's bets_view rows recomputed in place from its events,
 * batch by batch, while the workers keep projecting every tenant (that one included). No shadow
 * table and no swap: each batch is one short transaction that locks only its own bets' rows, so
 * other tenants' writes never wait on it. A row is written as the fold of its bet's stored events
 * under a guard of `<=` on the version (the fold at the row's own version replaces it; a worker
 * that got further meanwhile is kept). Rows of the tenant without any event are deleted at the end
 * (the schema owner's right, as for the full rebuild).
 */
import { inTransaction, type Pool } from '../../src/db/pool.js';
import type { Throttle } from '../throttle.js';
import { foldFromStore } from './index.js';
import { rewriteBetRows } from './statements.js';

export interface TenantRebuildOptions {
  /** Bets per transaction (default 500). */
  readonly batchSize?: number;
  readonly throttle?: Throttle;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface TenantRebuildReport {
  readonly tenantId: number;
  readonly bets: number;
  readonly events: number;
  /** Rows written (a row already equal to its fold is written too: it is a rebuild). */
  readonly rowsWritten: number;
  /** Rows of the tenant without any stored event, deleted. */
  readonly rowsWithoutEvents: number;
  /** The longest batch transaction: the longest any row of this tenant was locked by the rebuild. */
  readonly longestTransactionMs: number;
}

const TENANT_SIZE = {
  name: 'tenant_rebuild_size',
  text: `SELECT count(DISTINCT aggregate_id)::bigint AS bets, count(*)::bigint AS events
FROM bet_events WHERE tenant_id = $1`,
};

/** The next page of the tenant's bets after `$2`, in bet id order, with their event counts. */
const TENANT_BETS_PAGE = {
  name: 'tenant_rebuild_bets_page',
  text: `SELECT aggregate_id AS bet_id, count(*)::bigint AS events FROM bet_events
WHERE tenant_id = $1 AND aggregate_id > $2
GROUP BY aggregate_id ORDER BY aggregate_id LIMIT $3`,
};

const DELETE_ROWS_WITHOUT_EVENTS = {
  name: 'tenant_rebuild_delete_rows_without_events',
  text: `DELETE FROM bets_view v WHERE v.tenant_id = $1
  AND NOT EXISTS (SELECT 1 FROM bet_events e WHERE e.tenant_id = v.tenant_id AND e.aggregate_id = v.bet_id)`,
};

export async function rebuildTenant(
  pool: Pool,
  tenantId: number,
  options: TenantRebuildOptions = {},
): Promise<TenantRebuildReport> {
  const batchSize = options.batchSize ?? 500;
  const size = (await pool.query<{ bets: number; events: number }>({ ...TENANT_SIZE, values: [tenantId] }))
    .rows[0]!;
  let after = '';
  let done = 0;
  let rowsWritten = 0;
  let longest = 0;
  for (;;) {
    const { rows: page } = await pool.query<{ bet_id: string; events: number }>({
      ...TENANT_BETS_PAGE,
      values: [tenantId, after, batchSize],
    });
    if (page.length === 0) break;
    const bets = page.map((p) => ({ tenantId, betId: p.bet_id }));
    const started = performance.now();
    rowsWritten += await inTransaction(pool, async (client) =>
      rewriteBetRows(client, await foldFromStore(client, bets)),
    );
    longest = Math.max(longest, performance.now() - started);
    after = page.at(-1)!.bet_id;
    done += page.length;
    options.onProgress?.(done, size.bets);
    await options.throttle?.take(page.reduce((n, p) => n + p.events, 0));
  }
  const deleted = await pool.query({ ...DELETE_ROWS_WITHOUT_EVENTS, values: [tenantId] });
  return {
    tenantId,
    bets: size.bets,
    events: size.events,
    rowsWritten,
    rowsWithoutEvents: deleted.rowCount ?? 0,
    longestTransactionMs: Math.round(longest),
  };
}
