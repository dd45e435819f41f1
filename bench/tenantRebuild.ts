/**
 * `bench --only tenant-rebuild`: what `rebuild --tenant N` costs the producers of the other tenants.
 * One tenant holds --tenant-events events (its rows built once); then, run by run and alternating,
 * 8 callers append batches of 10 events of other tenants (async mode, as producers do) for the
 * time of: nothing else (the baseline), the tenant's rebuild unthrottled, and the same rebuild at
 * --max-events-per-second of a third of the unthrottled rate. Reported: the appends' p50 and p99,
 * the rebuild's time, its longest batch transaction and how long the followers were locked.
 */
import type { BetEvent } from '../src/events/types.js';
import { noPublisher } from '../src/kafka/publisher.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { createEventStore, type EventStore } from '../src/store/eventStore.js';
import { inlineProjection, rebuildReadModels, rebuildTenants } from '../projections/registry.js';
import { throttle } from '../projections/throttle.js';
import { fillEvents, type BenchContext } from './parts.js';
import { figure, quantile, round1, type Figure } from './stats.js';

const CALLERS = 8;
const BATCH = 10;
const BIG_TENANT = 1;
const BASELINE_MS = 10_000;

export interface TenantRebuildLane {
  readonly appendP50Ms: Figure;
  readonly appendP99Ms: Figure;
  readonly appendsPerSecond: Figure;
  readonly rebuildMs?: Figure;
  readonly longestTransactionMs?: Figure;
  readonly followersMs?: Figure;
}

export interface TenantRebuildFigures {
  readonly tenantEvents: number;
  readonly throttledRate: number;
  readonly alone: TenantRebuildLane;
  readonly unthrottled: TenantRebuildLane;
  readonly throttled: TenantRebuildLane;
}

/** Other tenants' events (2..21), generated as they are appended: fresh bets for every seed. */
function* otherTenants(seed: number): Generator<BetEvent> {
  for (const e of simulateEvents({ seed, events: 10_000_000, tenants: 20, openBets: 2_000, now: Date.now })) {
    yield { ...e, tenantId: e.tenantId + 1 };
  }
}

function take(events: Iterator<BetEvent>, n: number): BetEvent[] {
  const batch: BetEvent[] = [];
  for (let next = events.next(); !next.done; next = events.next()) {
    batch.push(next.value);
    if (batch.length === n) break;
  }
  return batch;
}

/** Appends from CALLERS callers until `until` settles; the latencies of every append. */
async function appendDuring(store: EventStore, seed: number, until: Promise<unknown>) {
  let done = false;
  const stop = () => void (done = true);
  until.then(stop, stop);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      // Each caller its own bets, so no two callers race for a bet's next version.
      const events = otherTenants(seed * 100 + caller);
      while (!done) {
        const batch = take(events, BATCH);
        const t = performance.now();
        await store.append(batch);
        latencies.push(performance.now() - t);
      }
    }),
  );
  await until;
  latencies.sort((a, b) => a - b);
  return {
    p50: round1(quantile(latencies, 0.5)),
    p99: round1(quantile(latencies, 0.99)),
    perSecond: Math.round((latencies.length / (performance.now() - started)) * 1000),
  };
}

export async function benchTenantRebuild(
  ctx: BenchContext,
  tenantEvents: number,
): Promise<TenantRebuildFigures> {
  // The simulator numbers tenants from 1: one tenant is BIG_TENANT.
  await fillEvents(ctx, tenantEvents, { tenants: 1, seed: 11 });
  const store = createEventStore({ pool: ctx.pool, publisher: noPublisher, inline: inlineProjection });
  await rebuildReadModels(ctx.pool);
  await ctx.pool.query('VACUUM ANALYZE bet_events');

  const lanes = {
    alone: { p50: [] as number[], p99: [] as number[], rate: [] as number[] },
    unthrottled: { p50: [] as number[], p99: [] as number[], rate: [] as number[] },
    throttled: { p50: [] as number[], p99: [] as number[], rate: [] as number[] },
  };
  const rebuilds = {
    unthrottled: { ms: [] as number[], longest: [] as number[], followers: [] as number[] },
    throttled: { ms: [] as number[], longest: [] as number[], followers: [] as number[] },
  };
  let throttledRate = 0;
  const rebuild = async (lane: 'unthrottled' | 'throttled') => {
    const started = performance.now();
    const limit = throttle(lane === 'throttled' ? throttledRate : undefined);
    const result = await rebuildTenants(ctx.pool, [BIG_TENANT], { throttle: limit });
    const ms = Math.round(performance.now() - started);
    rebuilds[lane].ms.push(ms);
    rebuilds[lane].longest.push(result.tenants[0]!.longestTransactionMs);
    rebuilds[lane].followers.push(result.followersMs);
    if (lane === 'unthrottled' && throttledRate === 0)
      throttledRate = Math.max(1, Math.round(tenantEvents / (ms / 1000) / 3));
  };
  for (let run = 0; run < ctx.runs; run++) {
    const record = (lane: keyof typeof lanes, r: { p50: number; p99: number; perSecond: number }) => {
      lanes[lane].p50.push(r.p50);
      lanes[lane].p99.push(r.p99);
      lanes[lane].rate.push(r.perSecond);
      ctx.log(`tenant rebuild, run ${run + 1}, ${lane}: appends p50 ${r.p50} ms, p99 ${r.p99} ms`);
    };
    const seed = 1_000 + run * 10;
    record('alone', await appendDuring(store, seed, new Promise((r) => setTimeout(r, BASELINE_MS))));
    record('unthrottled', await appendDuring(store, seed + 1, rebuild('unthrottled')));
    record('throttled', await appendDuring(store, seed + 2, rebuild('throttled')));
  }
  const lane = (name: keyof typeof lanes): TenantRebuildLane => ({
    appendP50Ms: figure(lanes[name].p50),
    appendP99Ms: figure(lanes[name].p99),
    appendsPerSecond: figure(lanes[name].rate),
    ...(name !== 'alone' && {
      rebuildMs: figure(rebuilds[name].ms),
      longestTransactionMs: figure(rebuilds[name].longest),
      followersMs: figure(rebuilds[name].followers),
    }),
  });
  return {
    tenantEvents,
    throttledRate,
    alone: lane('alone'),
    unthrottled: lane('unthrottled'),
    throttled: lane('throttled'),
  };
}
