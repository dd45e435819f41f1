/**
 * Where an append's rows go, as the key appends are grouped by (groupCommit.ts): on Citus the nodes
 * holding its tenants' shards, so a shared transaction commits on one node rather than in two
 * phases over several; on PostgreSQL one place for all. Asked of the database for tenants not yet
 * known and remembered for a while: a rebalance moves shards, and a stale answer costs only a group
 * that commits in two phases, never a wrong result.
 */
import { dialectOf } from '../db/platform.js';
import type { Pool } from '../db/pool.js';
import type { BetEvent } from '../events/types.js';

/** How long a tenant's node is remembered. */
export const PLACEMENT_TTL_MS = 60_000;

/** The key of an append whose placement could not be asked: it groups with others like it. */
const UNKNOWN = '?';

export type PlacementOf = (events: readonly BetEvent[]) => Promise<string>;

export function createPlacements(pool: Pool, ttlMs = PLACEMENT_TTL_MS): PlacementOf {
  const known = new Map<number, { readonly node: string; readonly until: number }>();

  async function ask(tenants: readonly number[]): Promise<void> {
    const statement = dialectOf(pool).nodesOfTenants?.(tenants);
    if (!statement) return;
    const { rows } = await pool.query<{ tenant_id: string; node: string }>(statement);
    const nodes = new Map<number, string[]>();
    for (const row of rows) {
      const tenant = Number(row.tenant_id);
      nodes.set(tenant, [...(nodes.get(tenant) ?? []), row.node]);
    }
    const until = Date.now() + ttlMs;
    for (const [tenant, of] of nodes) known.set(tenant, { node: of.sort().join('+'), until });
  }

  return async (events) => {
    if (!dialectOf(pool).nodesOfTenants) return '';
    const tenants = [...new Set(events.map((e) => e.tenantId))];
    const now = Date.now();
    const unknown = tenants.filter((t) => (known.get(t)?.until ?? 0) <= now);
    if (unknown.length > 0) {
      try {
        await ask(unknown);
      } catch {
        return UNKNOWN;
      }
    }
    const nodes = new Set(tenants.map((t) => known.get(t)?.node ?? UNKNOWN));
    return [...nodes].sort().join(',');
  };
}
