/**
 * How far bets_view is behind bet_events, by versions rather than timestamps: a bet lags when its
 * latest stored version is above its view row's. Lag in milliseconds is how long its oldest
 * unprojected event has waited.
 */
import type { KeyedRead } from '../../src/db/dialect.js';
import { readKeyed } from '../../src/db/keyedRead.js';
import { EVENT_POSITION } from '../../src/store/statements.js';
import type { Queryable } from '../../src/db/pool.js';
import { betKey, isKnownEventType } from '../../src/events/types.js';
import type { LaggingBet, ReconcileScope } from '../projection.js';

/**
 * Scoped by an optional event-time window, tenants and bet ids. Joins on (tenant_id, bet) so that
 * Citus runs it on colocated shards.
 */
const LAGGING_BETS = `
SELECT e.tenant_id, e.aggregate_id AS bet_id, max(e.version) AS latest_version,
       coalesce(max(v.version), 0) AS view_version,
       ($4::bigint - min(e."timestamp"))::bigint AS lag_ms
FROM bet_events e
LEFT JOIN bets_view v ON v.tenant_id = e.tenant_id AND v.bet_id = e.aggregate_id
WHERE e.version > coalesce(v.version, 0)
  AND ($1::bigint IS NULL OR e."timestamp" >= $1)
  AND ($2::bigint[] IS NULL OR e.tenant_id = ANY($2))
  AND ($3::text[] IS NULL OR e.aggregate_id = ANY($3))
  AND e."timestamp" <= $4
GROUP BY e.tenant_id, e.aggregate_id`;

export async function laggingBets(db: Queryable, scope: ReconcileScope = {}): Promise<LaggingBet[]> {
  // A list of bets is asked as its tenants and its ids (a superset: ids are per tenant), then
  // narrowed to the exact pairs here.
  const tenants = scope.bets ? [...new Set(scope.bets.map((b) => b.tenantId))] : scope.tenantIds;
  const wanted = scope.bets && new Set(scope.bets.map((b) => betKey(b.tenantId, b.betId)));
  const { rows } = await db.query<{
    tenant_id: number;
    bet_id: string;
    latest_version: number;
    view_version: number;
    lag_ms: number;
  }>(LAGGING_BETS, [
    scope.sinceMs ?? null,
    tenants ? [...tenants] : null,
    scope.bets ? [...new Set(scope.bets.map((b) => b.betId))] : null,
    scope.untilMs ?? Date.now(),
  ]);
  const lagging = rows.filter((r) => !wanted || wanted.has(betKey(r.tenant_id, r.bet_id)));
  const next = await nextEventTypes(
    db,
    lagging.map((r) => [r.tenant_id, r.bet_id, r.view_version + 1]),
  );
  return lagging.map((r) => {
    const type = next.get(betKey(r.tenant_id, r.bet_id));
    return {
      tenantId: r.tenant_id,
      betId: r.bet_id,
      latestVersion: r.latest_version,
      viewVersion: r.view_version,
      lagMs: r.lag_ms,
      heldBy: type === undefined || isKnownEventType(type) ? null : type,
    };
  });
}

/** The type of each bet's event at a version: here, the first one its view row has not folded. */
const EVENT_TYPE_AT: KeyedRead = {
  columns: 'tenant_id, aggregate_id, version, event_type',
  from: 'bet_events',
  keys: EVENT_POSITION,
};

/**
 * Whatever the window of the lag asked: a bet held at version 3 by an old event of an unknown type
 * may lag by a recent event at version 4.
 */
async function nextEventTypes(
  db: Queryable,
  positions: ReadonlyArray<readonly [number, string, number]>,
): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  for (let i = 0; i < positions.length; i += 10_000) {
    const rows = await readKeyed<{
      tenant_id: number;
      aggregate_id: string;
      version: number;
      event_type: string;
    }>(db, EVENT_TYPE_AT, positions.slice(i, i + 10_000), (row) => [
      row.tenant_id,
      row.aggregate_id,
      row.version,
    ]);
    for (const r of rows) types.set(betKey(r.tenant_id, r.aggregate_id), r.event_type);
  }
  return types;
}

export interface LagSummary {
  readonly laggingBets: number;
  /** Of those, the bets held at an event type this version does not know, by that type. */
  readonly held: Readonly<Record<string, number>>;
  readonly maxLagMs: number;
  readonly p99LagMs: number;
  readonly topTenants: ReadonlyArray<{ tenantId: number; laggingBets: number; maxLagMs: number }>;
}

/** Pure: the figures the lag report prints, from the lagging bets. */
export function summarizeLag(bets: readonly LaggingBet[], topN = 5): LagSummary {
  const lags = bets.map((b) => b.lagMs).sort((a, b) => a - b);
  const p99 = lags.length === 0 ? 0 : lags[Math.min(lags.length - 1, Math.ceil(lags.length * 0.99) - 1)]!;
  const held: Record<string, number> = {};
  for (const b of bets) if (b.heldBy !== null) held[b.heldBy] = (held[b.heldBy] ?? 0) + 1;
  const tenants = new Map<number, { tenantId: number; laggingBets: number; maxLagMs: number }>();
  for (const b of bets) {
    const t = tenants.get(b.tenantId) ?? { tenantId: b.tenantId, laggingBets: 0, maxLagMs: 0 };
    t.laggingBets++;
    t.maxLagMs = Math.max(t.maxLagMs, b.lagMs);
    tenants.set(b.tenantId, t);
  }
  return {
    laggingBets: bets.length,
    held,
    maxLagMs: lags[lags.length - 1] ?? 0,
    p99LagMs: p99,
    topTenants: [...tenants.values()]
      .sort((a, b) => b.laggingBets - a.laggingBets || b.maxLagMs - a.maxLagMs)
      .slice(0, topN),
  };
}
