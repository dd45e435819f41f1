import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  benchAppend,
  benchCeiling,
  benchEndToEnd,
  benchImmediate,
  benchLatency,
  type LatencyResult,
  benchRebuild,
  fillTopic,
  type BenchContext,
} from './parts.js';
import { benchClients, type ClientFigures } from './clients.js';
import {
  benchImmediateCallers,
  benchImmediateCeiling,
  IMMEDIATE_POOL,
  type ImmediateFigures,
} from './immediate.js';
import { benchCodecs, type CodecFigures } from './codecs.js';
import { benchPeer, peerMarkdown, type PeerFigures } from './peer.js';
import { benchPlatform, platformsMarkdown, type PlatformFigures } from './platforms.js';
import { barChart, lineChart } from './svg.js';
import { benchTracing, type TracingFigures } from './tracing.js';
import { benchSoak, type SoakFigures, type SoakSample } from './soak.js';
import { benchTenantRebuild, type TenantRebuildFigures } from './tenantRebuild.js';
import { spread, type Figure } from './stats.js';
import { STAGES, type Stage } from '../src/observability/stages.js';
import { loadConfig, maskUrl } from '../src/config.js';
import { withDatabase } from '../src/db/connection.js';
import { ensureDatabase } from '../src/db/ensureDatabase.js';
import { migrate } from '../src/db/migrate.js';
import { detectDialect } from '../src/db/platform.js';
import { ensureTopic } from '../src/kafka/topics.js';
import {
  fractionOption,
  intOption,
  stringOption,
  UsageError,
  type Command,
  type Values,
} from '../cli/command.js';
import { createRuntime, type Runtime } from '../cli/runtime.js';

const PARTS = [
  'append',
  'ceiling',
  'immediate',
  'callers',
  'e2e',
  'tracing',
  'latency',
  'rebuild',
  'tenant-rebuild',
  'peer',
  'codecs',
  'clients',
  'soak',
] as const;
/** Immediate mode under concurrency: callers, and whether each append publishes to Kafka. */
const IMMEDIATE_CALLERS = [
  [1, false],
  [16, false],
  [1, true],
  [16, true],
  [64, true],
] as const;
/** Issue 23's targets for the p99 event → view at 5,000 events/s, by platform. */
const LATENCY_P99_TARGET_MS = { postgres: 60, citus: 150 } as const;
/**
 * Parts a plain `bench` runs; `clients` needs Node ≥ 22.22 and `soak` takes half an hour: each is
 * asked for by name.
 */
const DEFAULT_PARTS = PARTS.filter((p) => p !== 'clients' && p !== 'soak');
type Part = (typeof PARTS)[number];

const SOAK_CHARTS: ReadonlyArray<[string, string, string, (s: SoakSample) => number]> = [
  ['rss', 'Soak: worker RSS per minute (lowest of its scrapes)', 'MB', (s) => s.rssFloorMb],
  ['heap', 'Soak: worker heap used per minute (lowest of its scrapes)', 'MB', (s) => s.heapFloorMb],
  ['latency', 'Soak: p99 event → view per minute', 'ms', (s) => s.eventToViewP99Ms],
  ['event-loop', 'Soak: event-loop delay p99 per minute', 'ms', (s) => s.eventLoopP99Ms],
];

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure append, projection, immediate mode, latency, rebuild and memory',
  usage: `projector bench [--only ${PARTS.join(',')}] [--runs 3] [--e2e-events 500000] [--rebuild-events 1000000] [--tenant-events 1000000] [--codec-events 100000] [--peer-events 200000] [--out bench/results]
projector bench --citus [--runs 3] [--append-events 20000] [--e2e-events 200000] [--rebuild-events 1000000] [--out bench/results]

Runs against the database bet_projector_bench on DATABASE_URL's server (created if missing) and the
local broker. Every figure is the median of --runs runs, with the spread. Writes
<out>/<timestamp>.json, .md and SVG charts (throughput over time, latency histogram).

--only peer: the worker at its defaults against Kafka Connect with the Debezium JDBC sink (resolved
from Maven Central by scripts/connect.sh), the same --peer-events events, alternating runs: time to
catch up, events/s, events/s once writing, peak RSS, CPU.
--only tenant-rebuild: one tenant of --tenant-events events (default 1000000) rebuilt in place,
unthrottled and at a third of that rate, while 8 callers append other tenants' events: their p50
and p99 against a baseline without the rebuild, alternating, and the rebuild's longest lock.
--only tracing: one worker at the defaults with traces off and on (0.01 sampled, OTLP/HTTP to a
stand-in collector), alternating, over min(--e2e-events, 200000) events that carry traceparent.
--only soak (not in the default set): one worker at the defaults, the sweep on, under appends at
--soak-rate events/s (default 3000) for --soak-minutes (default 30); every minute its RSS, heap,
event-loop delay p99 and the p99 event → view latency, with the growth over the last two thirds.
--only latency: event → view at --latency-rate events/s (default 5000) for 20 s, one worker, at
the defaults and with FLUSH_LINGER_MS=100. --latency-producers N (default 1) appenders at once, each its share of the
tenants, each appending every 10 ms (batches of rate / 100 / N).
--only codecs: each Kafka codec through the publisher and one worker (--codec-events each).
--only clients (not in the default set; needs Node ≥ 22.22: scripts/with-node.sh 24 ...): kafkajs
and @platformatic/kafka draining the same 2 × --codec-events events, and a member joining a group.

--citus measures append (batches of 100 over 20 tenants), one worker end to end at the default
buffer and the rebuild on DATABASE_URL's PostgreSQL and on the Citus coordinator of CITUS_URL
(default postgres://postgres@127.0.0.1:9700/postgres, the cluster of scripts/citus.sh), one after
the other in the same run, and writes <out>/<timestamp>-citus.json and .md with the ratios.

--v2-share F: the share of bets the generated streams place and settle by V2 events, a third of
them accumulators (default 0: V1 only, as every earlier run recorded).`,
  options: {
    only: { type: 'string' },
    runs: { type: 'string' },
    'e2e-events': { type: 'string' },
    'rebuild-events': { type: 'string' },
    'tenant-events': { type: 'string' },
    out: { type: 'string' },
    citus: { type: 'boolean' },
    'append-events': { type: 'string' },
    'codec-events': { type: 'string' },
    'peer-events': { type: 'string' },
    'v2-share': { type: 'string' },
    'soak-minutes': { type: 'string' },
    'soak-rate': { type: 'string' },
    'latency-producers': { type: 'string' },
    'latency-rate': { type: 'string' },
  },
  async run(values) {
    if (values['citus'] === true) {
      await comparePlatforms(values);
      return;
    }
    const only = (stringOption(values, 'only') ?? DEFAULT_PARTS.join(',')).split(',');
    for (const part of only) {
      if (!(PARTS as readonly string[]).includes(part))
        throw new UsageError(`--only "${part}" is not one of ${PARTS.join(', ')}`);
    }
    const want = (part: Part) => only.includes(part);
    const runs = intOption(values, 'runs', 3, 1, 100);
    const e2eEvents = intOption(values, 'e2e-events', 500_000, 1_000, 100_000_000);
    const rebuildEvents = intOption(values, 'rebuild-events', 1_000_000, 1_000, 100_000_000);
    const codecEvents = intOption(values, 'codec-events', 100_000, 1_000, 100_000_000);
    const peerEvents = intOption(values, 'peer-events', 200_000, 1_000, 100_000_000);
    const v2Share = fractionOption(values, 'v2-share', 0);
    const out = stringOption(values, 'out') ?? 'bench/results';
    const bench = withDatabase(loadConfig(), 'bet_projector_bench');
    await ensureDatabase(bench);
    const runtime = createRuntime('bench', { DATABASE_URL: bench.databaseUrl });
    const lines: string[] = [];
    const log = (line: string) => {
      lines.push(line);
      process.stdout.write(`${line}\n`);
    };
    try {
      await migrate(runtime.pool);
      await detectDialect(runtime.pool);
      const ctx = benchContext(runtime, bench.databaseUrl, runs, v2Share, log);
      const results: Record<string, unknown> = {
        startedAt: new Date().toISOString(),
        runs,
        v2Share,
        machine: machine(),
      };
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      await mkdir(out, { recursive: true });
      if (want('append')) results['append'] = await benchAppend(ctx, 20_000);
      if (want('ceiling')) {
        results['ceiling'] = {
          batch100: await benchCeiling(ctx, 100_000, 100),
          // What user_exposure (bets_view's follower) costs, in the same run.
          batch100BetsViewAlone: await benchCeiling(ctx, 100_000, 100, { followers: false }),
          batch1000: await benchCeiling(ctx, 100_000, 1_000),
        };
      }
      if (want('immediate')) results['immediate'] = await benchImmediate(ctx, 3_000);
      if (want('callers')) {
        const callers: ImmediateFigures[] = [];
        for (const [n, publish] of IMMEDIATE_CALLERS)
          callers.push(await benchImmediateCallers(ctx, 4_000, n, publish));
        results['callers'] = {
          pool: IMMEDIATE_POOL,
          runs: callers,
          ceiling: await benchImmediateCeiling(ctx, 4_000, IMMEDIATE_POOL),
        };
      }
      if (want('e2e')) {
        const topic = `bench-e2e-${Date.now()}`;
        await ensureTopic(runtime.kafka, topic, 6);
        log(`filling ${topic} with ${e2eEvents} events...`);
        await fillTopic(ctx, topic, e2eEvents);
        const e2e = {
          oneWorkerDefault: await benchEndToEnd(ctx, topic, e2eEvents, 1, {
            maxEvents: 100,
            intervalMs: 100,
          }),
          // What user_exposure (bets_view's follower) costs end to end, in the same run.
          oneWorkerDefaultBetsViewAlone: await benchEndToEnd(
            ctx,
            topic,
            e2eEvents,
            1,
            { maxEvents: 100, intervalMs: 100 },
            { PROJECTOR_BENCH_BETS_VIEW_ALONE: '1' },
          ),
          // What the row cache (off by default) buys, in the same run.
          oneWorkerDefaultWithRowCache: await benchEndToEnd(
            ctx,
            topic,
            e2eEvents,
            1,
            { maxEvents: 100, intervalMs: 100 },
            { VIEW_ROW_CACHE_SIZE: '20000' },
          ),
          oneWorkerTuned: await benchEndToEnd(ctx, topic, e2eEvents, 1, { maxEvents: 1_000, intervalMs: 50 }),
          twoWorkersTuned: await benchEndToEnd(ctx, topic, e2eEvents, 2, {
            maxEvents: 1_000,
            intervalMs: 50,
          }),
          threeWorkersTuned: await benchEndToEnd(ctx, topic, e2eEvents, 3, {
            maxEvents: 1_000,
            intervalMs: 50,
          }),
        };
        results['e2e'] = { events: e2eEvents, ...e2e };
        await writeFile(
          path.join(out, `${stamp}-throughput.svg`),
          lineChart(
            'One worker (default buffer): events/s over time',
            e2e.oneWorkerDefault.throughput,
            'seconds',
            'events/s',
          ),
        );
      }
      if (want('tracing')) results['tracing'] = await benchTracing(ctx, Math.min(e2eEvents, 200_000));
      if (want('latency')) {
        const producers = intOption(values, 'latency-producers', 1, 1, 64);
        const rate = intOption(values, 'latency-rate', 5_000, 100, 100_000);
        const latency = await benchLatency(ctx, rate, 20, {}, producers);
        results['latency'] = latency;
        // The rule before the linger: a caught-up partition waited FLUSH_INTERVAL_MS too.
        results['latencyWithoutLinger'] = await benchLatency(
          ctx,
          rate,
          20,
          { FLUSH_LINGER_MS: '100' },
          producers,
        );
        await writeFile(
          path.join(out, `${stamp}-latency.svg`),
          barChart(`Event → view latency at ${rate} events/s (ms)`, latency.histogram, 'ms', 'bets'),
        );
      }
      if (want('rebuild')) results['rebuild'] = await benchRebuild(ctx, rebuildEvents);
      if (want('tenant-rebuild'))
        results['tenantRebuild'] = await benchTenantRebuild(
          ctx,
          intOption(values, 'tenant-events', 1_000_000, 1_000, 100_000_000),
        );
      if (want('peer')) results['peer'] = await benchPeer(ctx, peerEvents);
      if (want('codecs')) results['codecs'] = await benchCodecs(ctx, codecEvents);
      if (want('clients')) results['clients'] = await benchClients(ctx, codecEvents * 2);
      if (want('soak')) {
        const soak = await benchSoak(
          ctx,
          intOption(values, 'soak-minutes', 30, 3, 24 * 60),
          intOption(values, 'soak-rate', 3_000, 100, 100_000),
        );
        results['soak'] = soak;
        for (const [name, title, unit, pick] of SOAK_CHARTS)
          await writeFile(
            path.join(out, `${stamp}-soak-${name}.svg`),
            lineChart(
              title,
              soak.samples.map((s) => [s.minute, pick(s)] as [number, number]),
              'minute',
              unit,
            ),
          );
      }
      await writeFile(path.join(out, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
      await writeFile(path.join(out, `${stamp}.md`), markdown(results));
      log(`wrote ${path.join(out, `${stamp}.json`)} and .md`);
    } finally {
      await runtime.close();
    }
  },
};

/** `bench --citus`: the same figures on PostgreSQL and on Citus, one after the other. */
async function comparePlatforms(values: Values): Promise<void> {
  const runs = intOption(values, 'runs', 3, 1, 100);
  const options = {
    appendEvents: intOption(values, 'append-events', 20_000, 1_000, 10_000_000),
    e2eEvents: intOption(values, 'e2e-events', 200_000, 1_000, 100_000_000),
    rebuildEvents: intOption(values, 'rebuild-events', 1_000_000, 1_000, 100_000_000),
  };
  const out = stringOption(values, 'out') ?? 'bench/results';
  const citusUrl = process.env['CITUS_URL'] ?? 'postgres://postgres@127.0.0.1:9700/postgres';
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };
  const topic = `bench-platforms-${Date.now()}`;
  const figures: PlatformFigures[] = [];
  for (const [platform, url] of [
    ['postgres', loadConfig().databaseUrl],
    ['citus', citusUrl],
  ] as const) {
    const bench = withDatabase(loadConfig({ ...process.env, DATABASE_URL: url }), 'bet_projector_bench');
    await ensureDatabase(bench);
    const runtime = createRuntime('bench', { DATABASE_URL: bench.databaseUrl });
    try {
      await migrate(runtime.pool);
      if ((await detectDialect(runtime.pool)).platform !== platform) {
        throw new UsageError(
          `${maskUrl(url)} is not ${platform}${platform === 'citus' ? ' (set CITUS_URL to a Citus coordinator)' : ''}`,
        );
      }
      const ctx = benchContext(runtime, bench.databaseUrl, runs, fractionOption(values, 'v2-share', 0), log);
      if (figures.length === 0) {
        log(`filling ${topic} with ${options.e2eEvents} events (both platforms read it)...`);
        await fillTopic(ctx, topic, options.e2eEvents);
      }
      figures.push(await benchPlatform(platform, ctx, topic, options));
    } finally {
      await runtime.close();
    }
  }
  const [pg, citus] = figures as [PlatformFigures, PlatformFigures];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await mkdir(out, { recursive: true });
  const results = {
    startedAt: new Date().toISOString(),
    runs,
    machine: machine(),
    options,
    postgres: pg,
    citus,
  };
  await writeFile(path.join(out, `${stamp}-citus.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(
    path.join(out, `${stamp}-citus.md`),
    `# PostgreSQL and Citus, ${results.startedAt}\n\n${platformsMarkdown(pg, citus, options)}\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n`,
  );
  log(`wrote ${path.join(out, `${stamp}-citus.json`)} and .md`);
}

function benchContext(
  runtime: Runtime,
  databaseUrl: string,
  runs: number,
  v2Share: number,
  log: (line: string) => void,
): BenchContext {
  return {
    pool: runtime.pool,
    kafka: runtime.kafka,
    databaseUrl,
    brokers: runtime.config.kafkaBrokers.join(','),
    runs,
    v2Share,
    log,
  };
}

function machine() {
  return { node: process.version, cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30) };
}

function soakRows(soak: SoakFigures | undefined): string[] {
  if (!soak) return [];
  const v = soak.verdict;
  const samples = soak.samples.map(
    (s) =>
      `| soak minute ${s.minute}: RSS floor–peak / heap floor–peak / event-loop p99 / mean flush / event → view p99 | ${s.rssFloorMb}–${s.rssPeakMb} MB / ${s.heapFloorMb}–${s.heapPeakMb} MB / ${s.eventLoopP99Ms} ms / ${s.flushMeanMs} ms / ${s.eventToViewP99Ms} ms (${s.betsProjected} bets) | |`,
  );
  return [
    `| soak: ${soak.minutes} min at ${soak.rate} events/s, ${soak.appended} events (tables at the end: ${soak.betEvents} events, ${soak.betsView} bets), growth of the RSS floor from minute ${v.fromMinute} (least squares) | ${v.rssGrowthMb} MB | ≤ 10 MB |`,
    `| soak: growth of the heap floor from minute ${v.fromMinute} | ${v.heapGrowthMb} MB | |`,
    `| soak: p99 event → view, first / last third from minute ${v.fromMinute} | ${v.eventToViewP99FirstMs} / ${v.eventToViewP99LastMs} ms | no drift |`,
    `| soak: the worker's mean flush, first / last third from minute ${v.fromMinute} | ${v.flushMeanFirstMs} / ${v.flushMeanLastMs} ms | |`,
    ...samples,
  ];
}

function markdown(r: Record<string, unknown>): string {
  const rows: string[] = ['| figure | median (min–max, runs) | target |', '|---|---|---|'];
  const add = (name: string, f: Figure | undefined, unit: string, target = '') => {
    if (f) rows.push(`| ${name} | ${spread(f)} ${unit} | ${target} |`);
  };
  const append = r['append'] as Record<string, Figure> | undefined;
  for (const [k, v] of Object.entries(append ?? {})) add(`append, ${k}`, v, 'events/s');
  const ceiling = r['ceiling'] as
    { batch100: Figure; batch100BetsViewAlone?: Figure; batch1000: Figure } | undefined;
  add('ceiling (UPSERT + checkpoint, no Kafka), batch 100', ceiling?.batch100, 'events/s');
  add('ceiling, batch 100, bets_view alone (no user_exposure)', ceiling?.batch100BetsViewAlone, 'events/s');
  if (ceiling?.batch100BetsViewAlone)
    rows.push(
      `| user_exposure's cost: ceiling batch 100 with / without | ${(ceiling.batch100.median / ceiling.batch100BetsViewAlone.median).toFixed(2)} | ≥ 0.85 |`,
    );
  add('ceiling, batch 1000', ceiling?.batch1000, 'events/s');
  const immediate = r['immediate'] as Figure | undefined;
  add('immediate mode (one event per transaction)', immediate, 'events/s');
  if (ceiling && immediate)
    rows.push(
      `| batch (ceiling, 100) / immediate | ${(ceiling.batch100.median / immediate.median).toFixed(1)}× | ≥ 25× |`,
    );
  rows.push(...callersRows(r['callers'] as CallersResult | undefined));
  rows.push(...soakRows(r['soak'] as SoakFigures | undefined));
  const tenantRebuild = r['tenantRebuild'] as TenantRebuildFigures | undefined;
  if (tenantRebuild) {
    const t = tenantRebuild;
    const lanes = [
      ['alone', t.alone],
      ['during rebuild --tenant, unthrottled', t.unthrottled],
      [`during rebuild --tenant --max-events-per-second ${t.throttledRate}`, t.throttled],
    ] as const;
    for (const [name, lane] of lanes) {
      add(`appends of other tenants (8 callers × 10 events), p99, ${name}`, lane.appendP99Ms, 'ms');
      add(`the same, p50, ${name}`, lane.appendP50Ms, 'ms');
      add(`rebuild of a ${t.tenantEvents}-event tenant, ${name}`, lane.rebuildMs, 'ms');
      add(`its longest batch transaction, ${name}`, lane.longestTransactionMs, 'ms');
      add(`followers set (no flush waits), ${name}`, lane.followersMs, 'ms');
    }
  }
  const tracing = r['tracing'] as TracingFigures | undefined;
  if (tracing) {
    add(
      `end to end, 1 worker at the defaults, traces off (${tracing.events} traced events)`,
      tracing.off,
      'events/s',
    );
    add(`the same, traces on at ${tracing.samplingRatio} (OTLP/HTTP protobuf)`, tracing.on, 'events/s');
    rows.push(`| traces' cost: on / off | ${tracing.ratio.toFixed(3)} | ≥ 0.95 |`);
  }
  const e2e = r['e2e'] as
    | Record<
        string,
        { eventsPerSecond: Figure; peakRssMb: Figure; stageMicrosPerEvent?: Partial<Record<Stage, number>> }
      >
    | undefined;
  if (e2e) {
    for (const [k, v] of Object.entries(e2e)) {
      if (typeof v !== 'object') continue;
      add(`end to end, ${k}`, v.eventsPerSecond, 'events/s', k === 'oneWorkerDefault' ? '≥ 30,000' : '');
      add(`peak RSS of the first worker, ${k}`, v.peakRssMb, 'MB', '≤ 200');
    }
    const alone = e2e['oneWorkerDefaultBetsViewAlone']?.eventsPerSecond;
    if (alone)
      rows.push(
        `| user_exposure's cost: 1 worker at the defaults, with / without | ${(e2e['oneWorkerDefault']!.eventsPerSecond.median / alone.median).toFixed(2)} | ≥ 0.85 |`,
      );
    const worker = e2e['oneWorkerDefault']?.eventsPerSecond;
    if (worker && immediate)
      rows.push(
        `| batch (1 worker, default buffer, end to end) / immediate | ${(worker.median / immediate.median).toFixed(1)}× | ≥ 25× |`,
      );
    if (ceiling) {
      rows.push(
        `| worker (1, tuned) / ceiling (batch 1000) | ${(e2e['oneWorkerTuned']!.eventsPerSecond.median / ceiling.batch1000.median).toFixed(2)} | ≥ 0.7 |`,
      );
    }
  }
  for (const [key, label, withTarget] of [
    ['latency', 'defaults', true],
    ['latencyWithoutLinger', 'FLUSH_LINGER_MS=100 (the rule before the linger)', false],
  ] as const) {
    const latency = r[key] as LatencyResult | undefined;
    if (!latency) continue;
    const target = withTarget ? `p99 ≤ ${LATENCY_P99_TARGET_MS[latency.platform]} ms` : '';
    rows.push(
      `| latency, ${latency.rate} events/s asked, on ${latency.platform}, ${label}, p50 / p95 / p99 (p99 of each run) | ${latency.p50} / ${latency.p95} / ${latency.p99} ms (${latency.p99Runs.runs.join(', ')}) | ${target} |`,
      `| worker CPU at ${latency.rate}/s, ${label}, per 1,000 events | ${spread(latency.workerCpuMsPer1000, 1)} ms | |`,
      `| the rate appended at, ${label}, ${latency.producers} producer(s) in batches of ${latency.batchSize} | ${spread(latency.appendedPerSecond)} events/s | |`,
    );
  }
  const rebuild = r['rebuild'] as
    | {
        events: number;
        oursMs: Figure;
        oursLiveMs?: Figure;
        referenceMs: Figure;
        phases?: Record<string, Figure>;
        liveRatios?: number[];
      }
    | undefined;
  if (rebuild) {
    add(
      `rebuild of ${rebuild.events} events, ours (shadow + swap + ANALYZE)`,
      rebuild.oursMs,
      'ms',
      '≤ 4,000 ms',
    );
    if (rebuild.oursLiveMs) add(`rebuild, ours: until the new view is live`, rebuild.oursLiveMs, 'ms');
    for (const [phase, f] of Object.entries(rebuild.phases ?? {})) add(`rebuild, ours: ${phase}`, f, '');
    add(`rebuild, reference TRUNCATE + INSERT … DISTINCT ON`, rebuild.referenceMs, 'ms');
    const ratio = (f: Figure) => (f.median / rebuild.referenceMs.median).toFixed(2);
    rows.push(
      `| rebuild, ours / reference: until live, in all | ${rebuild.oursLiveMs ? ratio(rebuild.oursLiveMs) : '–'}×, ${ratio(rebuild.oursMs)}× | until live ≤ 1.0× |`,
    );
    if (rebuild.liveRatios)
      rows.push(
        `| rebuild, until live / reference, each run's pair (alternating) | ${rebuild.liveRatios.map((r) => r.toFixed(2)).join(', ')} |  |`,
      );
  }
  const stages: string[] = [];
  for (const [k, v] of Object.entries(e2e ?? {})) {
    if (typeof v !== 'object' || !v.stageMicrosPerEvent) continue;
    if (stages.length === 0) {
      stages.push(
        '',
        'Where a worker spends its time, µs per event by stage (first run; partitions flush in parallel, so stages add up to more than the wall time):',
        '',
        `| run | ${STAGES.join(' | ')} |`,
        `|---|${STAGES.map(() => '---').join('|')}|`,
      );
    }
    stages.push(`| ${k} | ${STAGES.map((s) => v.stageMicrosPerEvent?.[s] ?? '').join(' | ')} |`);
  }
  return `# bet-projector bench, ${String(r['startedAt'])}\n\n${rows.join('\n')}\n${stages.join('\n')}\n${peerMarkdown(r['peer'] as PeerFigures | undefined)}${codecsMarkdown(r)}${clientsMarkdown(r)}`;
}

interface CallersResult {
  readonly pool: number;
  readonly runs: readonly ImmediateFigures[];
  readonly ceiling: Figure;
}

function callersRows(c: CallersResult | undefined): string[] {
  if (!c) return [];
  const rows = c.runs.map(
    (f) =>
      `| immediate mode, ${f.callers} callers, ${f.publish ? 'publishing' : 'not publishing'} (pool of ${c.pool}): events/s; p50 / p99 ms | ${spread(f.eventsPerSecond)}; ${f.p50Ms.median} / ${f.p99Ms.median} | ${f.callers === c.pool && f.publish ? '≥ 0.7× the ceiling, p99 ≤ 20 ms' : ''} |`,
  );
  rows.push(
    `| its ceiling: the same transaction, statement by statement, ${c.pool} clients | ${spread(c.ceiling)} tps | |`,
  );
  for (const f of c.runs.filter((r) => r.callers === c.pool))
    rows.push(
      `| immediate, ${f.callers} callers ${f.publish ? 'publishing' : 'not publishing'} / ceiling | ${(f.eventsPerSecond.median / c.ceiling.median).toFixed(2)} | ${f.publish ? '≥ 0.7' : ''} |`,
    );
  return rows;
}

function codecsMarkdown(r: Record<string, unknown>): string {
  const codecs = r['codecs'] as Record<string, CodecFigures> | undefined;
  if (!codecs) return '';
  const rows = [
    '',
    'Kafka codecs: the publisher (batches of 100, acks=all) and one worker at the defaults reading what it wrote:',
    '',
    '| codec | bytes per 100 events | publish, events/s | publish CPU, µs/event | end to end, events/s | peak RSS, MB |',
    '|---|---|---|---|---|---|',
  ];
  for (const [codec, f] of Object.entries(codecs)) {
    rows.push(
      `| ${codec} | ${f.batchBytes} | ${spread(f.publish)} | ${spread(f.publishCpuMicrosPerEvent, 1)} | ${spread(f.endToEnd.eventsPerSecond)} | ${spread(f.endToEnd.peakRssMb)} |`,
    );
  }
  return `${rows.join('\n')}\n`;
}

function clientsMarkdown(r: Record<string, unknown>): string {
  const clients = r['clients'] as Record<string, ClientFigures> | undefined;
  if (!clients) return '';
  const rows = [
    '',
    'Kafka clients draining the same topic, each in a process of its own (values parsed as JSON):',
    '',
    '| client | events/s | CPU s | peak RSS, MB | a member joins a paced group: its first message after | the other member silent for | delivered twice | all read in |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [client, f] of Object.entries(clients)) {
    rows.push(
      `| ${client} | ${spread(f.eventsPerSecond)} | ${spread(f.cpuSeconds, 2)} | ${spread(f.peakRssMb)} | ${f.rebalance.joinerFirstMs ?? '—'} ms | ${f.rebalance.firstLongestSilenceMs} ms | ${f.rebalance.duplicates} | ${f.rebalance.seconds} s |`,
    );
  }
  return `${rows.join('\n')}\n`;
}
