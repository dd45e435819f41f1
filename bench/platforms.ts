/**
 * The same figures on plain PostgreSQL and on a Citus cluster, in one run on one machine: append in
 * batches of 100 over 20 tenants, one worker end to end at the default buffer, and a rebuild with
 * its locked swap. What docs/benchmarks.md reports for Citus, each as a ratio to PostgreSQL.
 */
import { inlineProjection } from '../projections/registry.js';
import { rebuildBetsView, type RebuildReport } from '../projections/bets/rebuild.js';
import { noPublisher } from '../src/kafka/publisher.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { createEventStore } from '../src/store/eventStore.js';
import { dialectOf } from '../src/db/platform.js';
import type { BetEvent } from '../src/events/types.js';
import {
  benchCeiling,
  benchEndToEnd,
  fillEvents,
  keyHash,
  PROJECTED_TABLES,
  type BenchContext,
  type EndToEndResult,
} from './parts.js';
import { serverCpu, timedCpu } from './cpu.js';
import { figure, repeat, round1, spread, type Figure } from './stats.js';
import { benchUpsertCeiling } from './upsertCeiling.js';

export interface PlatformFigures {
  readonly platform: string;
  readonly append: Figure;
  readonly appendConcurrent: Figure;
  readonly e2e: EndToEndResult;
  /** The worker's flush statements from memory, as many partitions at once as the e2e topic has. */
  readonly ceiling: Figure;
  /**
   * CPU per event while the ceiling ran, in µs: each database server's (where it runs on this
   * machine) and the bench process's own (the flusher's reading, folding and sending).
   */
  readonly ceilingCpu?: {
    readonly nodes: readonly string[];
    readonly serverMicros: readonly number[];
    readonly clientMicros: number;
  };
  /** Plain 100-row UPSERTs at 4 clients, rows of 20 tenants in each statement, and of one. */
  readonly upsertCeiling: { readonly tenants: Figure; readonly oneTenant: Figure };
  readonly rebuild: { readonly totalMs: Figure; readonly lockedMs: Figure; readonly fillMs: Figure };
}

const TENANTS = 20;
const BATCH = 100;
const CONCURRENT_PRODUCERS = 4;
/** The e2e topic's partitions (parts.ts fillTopic): the worker flushes that many at once. */
const WORKER_PARTITIONS = 6;
/** The plain UPSERT ceiling's shape: pgbench's, as issue 23 measured it. */
const UPSERT_CLIENTS = 4;
const UPSERT_ROWS = 100;

function stream(count: number, seed: number): BetEvent[] {
  return [...simulateEvents({ seed, events: count, tenants: TENANTS, openBets: 5_000, now: Date.now })];
}

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000);

/**
 * Batches of 100 over 20 tenants through the real append path, from `producers` producers at once.
 * Each producer owns a share of the bets (by a hash of the bet) and appends its share in order, in
 * batches of 100, as producers behind a partitioned API would.
 */
async function appendRate(ctx: BenchContext, count: number, producers: number): Promise<Figure> {
  const store = createEventStore({ pool: ctx.pool, publisher: noPublisher, inline: inlineProjection });
  return repeat(ctx.runs, async (run) => {
    await ctx.pool.query(`TRUNCATE bet_events, ${PROJECTED_TABLES}`);
    const lanes: BetEvent[][] = Array.from({ length: producers }, () => []);
    for (const e of stream(count, 700 + run)) {
      lanes[Math.abs(keyHash(`${e.tenantId}:${e.aggregateId}`)) % producers]!.push(e);
    }
    const started = performance.now();
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = 0; i < lane.length; i += BATCH) await store.append(lane.slice(i, i + BATCH));
      }),
    );
    return perSecond(count, performance.now() - started);
  });
}

async function rebuildFigures(ctx: BenchContext, events: number) {
  await fillEvents(ctx, events);
  await ctx.pool.query('VACUUM ANALYZE bet_events');
  await rebuildBetsView(ctx.pool);
  const reports: RebuildReport[] = [];
  await repeat(ctx.runs, async () => {
    const report = await rebuildBetsView(ctx.pool);
    reports.push(report);
    return report.totalMs;
  });
  return {
    totalMs: figure(reports.map((r) => r.totalMs)),
    lockedMs: figure(reports.map((r) => r.lockedMs)),
    fillMs: figure(reports.map((r) => r.fillMs)),
  };
}

export async function benchPlatform(
  platform: string,
  ctx: BenchContext,
  topic: string,
  options: { appendEvents: number; e2eEvents: number; rebuildEvents: number },
): Promise<PlatformFigures> {
  ctx.log(`${platform}: append, batches of ${BATCH} over ${TENANTS} tenants...`);
  const append = await appendRate(ctx, options.appendEvents, 1);
  const appendConcurrent = await appendRate(ctx, options.appendEvents, CONCURRENT_PRODUCERS);
  ctx.log(
    `${platform}: append ${append.median} events/s; ${CONCURRENT_PRODUCERS} producers ${appendConcurrent.median}`,
  );
  const e2e = await benchEndToEnd(ctx, topic, options.e2eEvents, 1, { maxEvents: 100, intervalMs: 100 });
  // CPU of the timed flushes only: not the tables' reset nor making the events.
  const meter = await serverCpu(ctx.pool, dialectOf(ctx.pool).platform);
  const cpu = timedCpu(meter);
  // The flush size the worker reaches while it works off the topic's backlog.
  const ceiling = await benchCeiling(ctx, options.e2eEvents, dialectOf(ctx.pool).backlogFlushEvents, {
    lanes: WORKER_PARTITIONS,
    timed: cpu.timed,
  });
  const ceilingCpu = meter && { nodes: meter.nodes, ...cpu.microsPerEvent(options.e2eEvents * ctx.runs) };
  ctx.log(`${platform}: end to end ${e2e.eventsPerSecond.median} events/s; its ceiling ${ceiling.median}`);
  const upsert = (tenants: number) =>
    benchUpsertCeiling(ctx, options.e2eEvents, { clients: UPSERT_CLIENTS, rows: UPSERT_ROWS, tenants });
  const upsertCeiling = { tenants: await upsert(TENANTS), oneTenant: await upsert(1) };
  const rebuild = await rebuildFigures(ctx, options.rebuildEvents);
  ctx.log(`${platform}: rebuild ${rebuild.totalMs.median} ms (locked ${rebuild.lockedMs.median} ms)`);
  return {
    platform,
    append,
    appendConcurrent,
    e2e,
    ceiling,
    ...(ceilingCpu && { ceilingCpu }),
    upsertCeiling,
    rebuild,
  };
}

/** The side-by-side table, with Citus as a ratio of PostgreSQL. */
export function platformsMarkdown(
  pg: PlatformFigures,
  citus: PlatformFigures,
  options: { e2eEvents: number; rebuildEvents: number },
): string {
  const ratio = (a: number, b: number) => (b === 0 ? '–' : `${(a / b).toFixed(2)}×`);
  const row = (name: string, p: Figure, c: Figure, unit: string, target = '') =>
    `| ${name} | ${spread(p)} ${unit} | ${spread(c)} ${unit} | ${ratio(c.median, p.median)} | ${target} |`;
  return [
    '| figure | PostgreSQL | Citus (coordinator + 2 workers) | Citus / PostgreSQL | target on Citus |',
    '|---|---|---|---|---|',
    row(
      `append, batches of ${BATCH} over ${TENANTS} tenants, 1 producer`,
      pg.append,
      citus.append,
      'events/s',
      '≥ 10,000',
    ),
    row(
      `append, the same, ${CONCURRENT_PRODUCERS} producers`,
      pg.appendConcurrent,
      citus.appendConcurrent,
      'events/s',
    ),
    row(
      `end to end, ${options.e2eEvents} events, 1 worker, default buffer`,
      pg.e2e.eventsPerSecond,
      citus.e2e.eventsPerSecond,
      'events/s',
      '≥ 10,000',
    ),
    row(
      `the database's ceiling for it: the worker's flushes from memory, ${WORKER_PARTITIONS} partitions at once, at its backlog flush size`,
      pg.ceiling,
      citus.ceiling,
      'events/s',
    ),
    `| end to end / that ceiling | ${ratio(pg.e2e.eventsPerSecond.median, pg.ceiling.median)} | ${ratio(
      citus.e2e.eventsPerSecond.median,
      citus.ceiling.median,
    )} | | |`,
    row(
      `plain ${UPSERT_ROWS}-row UPSERTs, ${UPSERT_CLIENTS} clients, rows of ${TENANTS} tenants in each statement`,
      pg.upsertCeiling.tenants,
      citus.upsertCeiling.tenants,
      'rows/s',
    ),
    row(
      `the same, rows of one tenant in each statement`,
      pg.upsertCeiling.oneTenant,
      citus.upsertCeiling.oneTenant,
      'rows/s',
    ),
    `| end to end / plain UPSERTs of ${TENANTS} tenants (PostgreSQL target ≥ 0.5) | ${ratio(
      pg.e2e.eventsPerSecond.median,
      pg.upsertCeiling.tenants.median,
    )} | ${ratio(citus.e2e.eventsPerSecond.median, citus.upsertCeiling.tenants.median)} | | |`,
    row('peak RSS of that worker', pg.e2e.peakRssMb, citus.e2e.peakRssMb, 'MB'),
    row(
      `rebuild of ${options.rebuildEvents} events, total`,
      pg.rebuild.totalMs,
      citus.rebuild.totalMs,
      'ms',
      'report',
    ),
    row('rebuild, its fill', pg.rebuild.fillMs, citus.rebuild.fillMs, 'ms'),
    row(
      'rebuild, its locked swap (readers wait)',
      pg.rebuild.lockedMs,
      citus.rebuild.lockedMs,
      'ms',
      'report',
    ),
    '',
    'Where the worker spends its time, µs per event by stage (first run):',
    '',
    `| platform | ${Object.keys(pg.e2e.stageMicrosPerEvent).join(' | ')} |`,
    `|---|${Object.keys(pg.e2e.stageMicrosPerEvent)
      .map(() => '---')
      .join('|')}|`,
    ...[pg, citus].map(
      (p) =>
        `| ${p.platform} | ${Object.keys(pg.e2e.stageMicrosPerEvent)
          .map((s) => p.e2e.stageMicrosPerEvent[s as keyof typeof p.e2e.stageMicrosPerEvent] ?? '')
          .join(' | ')} |`,
    ),
    '',
    ...cpuTable([pg, citus]),
  ].join('\n');
}

/** CPU per event while the flush ceiling ran, server by server: where a flush's time goes. */
function cpuTable(platforms: readonly PlatformFigures[]): string[] {
  const measured = platforms.filter((p) => p.ceilingCpu);
  if (measured.length === 0) return [];
  return [
    `CPU per event while the flush ceiling ran (µs; the bench process reads, folds and sends; each server's time from /proc):`,
    '',
    '| platform | the bench process | servers | server total |',
    '|---|---|---|---|',
    ...measured.map((p) => {
      const cpu = p.ceilingCpu!;
      const servers = cpu.nodes.map((node, i) => `${node} ${cpu.serverMicros[i]}`).join(', ');
      const total = round1(cpu.serverMicros.reduce((a, b) => a + b, 0));
      return `| ${p.platform} | ${cpu.clientMicros} | ${servers} | ${total} |`;
    }),
    '',
  ];
}
