/**
 * Every read model, registered in one place. bets_view is fed by the events; user_exposure and
 * tenant_daily_revenue follow bets_view's accepted row transitions in the same transaction (on
 * PostgreSQL, the same statement). The worker therefore runs all of them in every flush, in one
 * transaction, under one checkpoint: a per-user or per-day sum is only exact if it moves with the
 * very row writes it sums (a second consumer group would fold the bets again and
 * could see another order of writes than bets_view did).
 *
 * consumers/ and the core of src/ see only the contract (projections/projection.ts); the commands
 * (cli/, and bench/ outside the product) are the composition root and name read models where they print or measure
 * one. Adding a read model: see docs/architecture.md.
 */
import { createBetsProjection, type BetsProjectionOptions } from './bets/index.js';
import { laggingBets } from './bets/lag.js';
import {
  DEFAULT_REBUILD_CHUNKS,
  rebuildBetsView,
  type RebuildOptions,
  type RebuildReport,
} from './bets/rebuild.js';

export { DEFAULT_REBUILD_CHUNKS };
import { healDiffering, repairBets } from './bets/repair.js';
import { differingBets } from './bets/verify.js';
import { rebuildTenant, type TenantRebuildOptions, type TenantRebuildReport } from './bets/rebuildTenant.js';
import { exposureFollower } from './exposure/index.js';
import { revenueFollower } from './revenue/index.js';
import type { Pool, Queryable } from '../src/db/pool.js';
import type { InlineProjection } from '../src/store/eventStore.js';
import type {
  FollowerCheck,
  FollowerScope,
  Projection,
  Reconciler,
  TransitionFollower,
} from './projection.js';

/** The read models written from bets_view's transitions, in the order their additions are sent. */
export const FOLLOWERS: readonly TransitionFollower[] = [exposureFollower, revenueFollower];

/** The followers' names, for the commands' help: "user_exposure and tenant_daily_revenue". */
export const FOLLOWER_NAMES = FOLLOWERS.map((f) => f.name)
  .join(', ')
  .replace(/, ([^,]*)$/, ' and $1');

/** bets_view with every follower: what each writer of bets_view must use. */
export function createProjection(options: Omit<BetsProjectionOptions, 'followers'> = {}): Projection {
  return createBetsProjection({ ...options, followers: FOLLOWERS });
}

/** Without a row cache: for writers that do not own a partition's bets (producers, repair, tests). */
export const betsProjection: Projection = createProjection();

/** Immediate mode's write of every read model, for the event store. */
export const inlineProjection: InlineProjection = (client, events) => betsProjection.prepare(client, events);

/** The read models as lag, repair, the sweep and the rebuild check and heal them. */
export const reconciler: Reconciler = {
  laggingBets: (db, scope) => laggingBets(db, scope),
  repairBets: (pool, bets, options) => repairBets(pool, betsProjection, bets, options),
  checkFollowers: (db, scope) => checkFollowers(db, scope),
  repairFollowers: (pool, scope) => repairFollowers(pool, scope),
  differingBets: (db, scope) => differingBets(db, scope),
  healDiffering: (pool, bets, throttle) => healDiffering(pool, bets, throttle),
};

export { summarizeLag } from './bets/lag.js';

/**
 * `projector rebuild`: bets_view rebuilt from the events (shadow table + swap), then each follower
 * set from the new table — the rebuilt rows did not pass through the followers, and the shadow may
 * be ahead of what the workers had written (a transition it holds is one they will not write).
 */
export async function rebuildReadModels(
  pool: Pool,
  options: RebuildOptions = {},
): Promise<RebuildReport & { readonly followersSet: Record<string, number> }> {
  const report = await rebuildBetsView(pool, options);
  return { ...report, followersSet: report.swapped ? await repairFollowers(pool) : {} };
}

/**
 * `projector rebuild --tenant N…`: each tenant's bets_view rows recomputed in place, batch by batch
 * (projections/bets/rebuildTenant.ts), then the followers set for those tenants from what bets_view
 * now holds (projections/sums.ts, repairBySum: on PostgreSQL no flush of another tenant waits for
 * it; on Citus flushes wait for its time); that time is reported.
 */
export async function rebuildTenants(
  pool: Pool,
  tenantIds: readonly number[],
  options: TenantRebuildOptions = {},
): Promise<{
  readonly tenants: TenantRebuildReport[];
  readonly followersSet: Record<string, number>;
  readonly followersMs: number;
}> {
  const tenants: TenantRebuildReport[] = [];
  for (const tenantId of tenantIds) tenants.push(await rebuildTenant(pool, tenantId, options));
  const started = performance.now();
  const followersSet = await repairFollowers(pool, { tenantIds });
  return { tenants, followersSet, followersMs: Math.round(performance.now() - started) };
}

/** Each follower set to what bets_view says it must hold: rows changed, by name. */
export async function repairFollowers(pool: Pool, scope?: FollowerScope): Promise<Record<string, number>> {
  const changed: Record<string, number> = {};
  for (const follower of FOLLOWERS) changed[follower.name] = await follower.repair(pool, scope);
  return changed;
}

/** Each follower's check, by name. */
export async function checkFollowers(
  db: Queryable,
  scope?: FollowerScope,
): Promise<Record<string, FollowerCheck>> {
  const checks: Record<string, FollowerCheck> = {};
  for (const follower of FOLLOWERS) checks[follower.name] = await follower.check(db, scope);
  return checks;
}
