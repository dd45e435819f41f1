/**
 * The benchmark's measurements. Each runs against the bench database and the local broker, and
 * returns figures (median and spread over runs) rather than single timings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Partitioners, type Kafka } from 'kafkajs';
import { createBetsProjection as bareBetsProjection } from '../projections/bets/index.js';
import {
  createProjection as createBetsProjection,
  FOLLOWERS,
  inlineProjection,
} from '../projections/registry.js';
import { rebuildBetsView, type RebuildReport } from '../projections/bets/rebuild.js';
import { isCaughtUp } from '../consumers/lag.js';
import { createFlusher } from '../consumers/flush.js';
import type { EventItem } from '../consumers/messages.js';
import { dialectOf, type Platform } from '../src/db/platform.js';
import type { Pool } from '../src/db/pool.js';
import { silentLogger } from '../src/observability/logger.js';
import { freePort } from '../src/freePort.js';
import { STAGES, type Stage } from '../src/observability/stages.js';
import type { BetEvent } from '../src/events/types.js';
import { encodeEvent, noPublisher } from '../src/kafka/publisher.js';
import { ensureTopic, topicEndOffsets } from '../src/kafka/topics.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { runSimulation } from '../src/simulate/run.js';
import { createEventStore } from '../src/store/eventStore.js';
import { eventRowValues } from '../src/store/statements.js';
import { cpuMs } from './cpu.js';
import { figure, quantile, repeat, round1, round2, type Figure } from './stats.js';

export interface BenchContext {
  readonly pool: Pool;
  readonly kafka: Kafka;
  readonly databaseUrl: string;
  readonly brokers: string;
  readonly runs: number;
  /** The share of bets placed and settled by V2 events in the generated stream (--v2-share). */
  readonly v2Share: number;
  readonly log: (line: string) => void;
}

export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/**
 * Workers run as the chart runs them: the image's flag (Dockerfile ENTRYPOINT: with a 4 MB
 * young-generation semi-space, V8 keeps a worker at full speed smaller at the same throughput) and
 * the chart's heap ceiling (values.yaml heapLimitMiB, NODE_OPTIONS). Without the ceiling Node sizes
 * the heap from this machine's memory and garbage piles up far past what a pod holds
 * (docs/benchmarks.md).
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=256'];

/**
 * A worker process on the bench's database and broker, reading `topic` as `group`; its log (warn
 * and above) goes to the bench's stderr. `settings`: its environment on top of the bench's base
 * (an ephemeral HTTP port, the sweep off, LOG_LEVEL=warn); a setting given as undefined leaves
 * that variable out, so the worker takes its default.
 */
export function workerProcess(
  ctx: BenchContext,
  topic: string,
  group: string,
  settings: Record<string, string | undefined> = {},
): ChildProcess {
  const env = Object.entries({
    PATH: process.env['PATH'] ?? '',
    DATABASE_URL: ctx.databaseUrl,
    KAFKA_BROKERS: ctx.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    HTTP_PORT: '0',
    SWEEP_INTERVAL_MS: '0',
    LOG_LEVEL: 'warn',
    ...settings,
  }).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return spawn(process.execPath, [...WORKER_NODE_FLAGS, CLI, 'worker'], {
    env: Object.fromEntries(env),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000);

function events(ctx: BenchContext, count: number, seed: number): BetEvent[] {
  return [
    ...simulateEvents({
      seed,
      events: count,
      tenants: 50,
      openBets: 5_000,
      v2Share: ctx.v2Share,
      now: Date.now,
    }),
  ];
}

/** Every read model's table, and the worker's bookkeeping: what a run starts without. */
export const PROJECTED_TABLES = [
  'bets_view',
  ...FOLLOWERS.map((f) => f.name),
  'projection_checkpoints',
  'dead_letters',
].join(', ');

async function resetTables(pool: Pool): Promise<void> {
  await pool.query(`TRUNCATE bet_events, ${PROJECTED_TABLES}`);
}

export async function benchAppend(ctx: BenchContext, count: number): Promise<Record<string, Figure>> {
  const store = createEventStore({ pool: ctx.pool, publisher: noPublisher, inline: inlineProjection });
  const result: Record<string, Figure> = {};
  result['row per statement'] = await repeat(ctx.runs, async (run) => {
    await resetTables(ctx.pool);
    const batch = events(ctx, count, 100 + run);
    const started = performance.now();
    for (const e of batch) {
      await ctx.pool.query(
        `INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp",
                                 previous_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
        eventRowValues(e),
      );
    }
    return perSecond(count, performance.now() - started);
  });
  for (const size of [100, 1_000]) {
    result[`UNNEST batch of ${size}`] = await repeat(ctx.runs, async (run) => {
      await resetTables(ctx.pool);
      const all = events(ctx, count, 200 + run);
      const started = performance.now();
      for (let i = 0; i < all.length; i += size) await store.append(all.slice(i, i + size));
      return perSecond(count, performance.now() - started);
    });
  }
  ctx.log(
    `append: ${JSON.stringify(Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.median])))}`,
  );
  return result;
}

/**
 * The worker's own flusher (read, fold, one-round-trip transaction), fed from memory: no Kafka.
 * `followers: false` writes bets_view alone — what the read models that follow it cost. `lanes`:
 * that many partitions flushed at once, each bet in one (by a hash of its key, as Kafka's
 * partitioner keeps a bet in one partition) — the database's own ceiling for the worker's
 * statements at the worker's parallelism.
 */
export async function benchCeiling(
  ctx: BenchContext,
  count: number,
  batch: number,
  options: {
    followers?: boolean;
    lanes?: number;
    /** Told as each run's timed flushes start and end (after the tables are reset and the events made). */
    timed?: (phase: 'start' | 'end') => void;
  } = {},
): Promise<Figure> {
  const lanes = options.lanes ?? 1;
  const f = await repeat(ctx.runs, async (run) => {
    await resetTables(ctx.pool);
    const byLane: EventItem[][] = Array.from({ length: lanes }, () => []);
    for (const event of events(ctx, count, 300 + run)) {
      const partition = lanes === 1 ? 0 : Math.abs(keyHash(`${event.tenantId}:${event.aggregateId}`)) % lanes;
      const lane = byLane[partition]!;
      lane.push({ kind: 'event', topic: 'ceiling', partition, offset: lane.length, event });
    }
    const flushers = byLane.map(() =>
      createFlusher({
        pool: ctx.pool,
        // As `projector worker` builds it by default (no row cache); or bets_view without followers.
        projection: options.followers === false ? bareBetsProjection() : createBetsProjection(),
        checkpointName: 'ceiling',
        retry: { initialMs: 100, maxMs: 1_000, maxAttempts: 3 },
        logger: silentLogger,
      }),
    );
    options.timed?.('start');
    const started = performance.now();
    await Promise.all(
      byLane.map(async (items, lane) => {
        for (let i = 0; i < items.length; i += batch) await flushers[lane]!(items.slice(i, i + batch));
      }),
    );
    const ms = performance.now() - started;
    options.timed?.('end');
    return perSecond(count, ms);
  });
  ctx.log(
    `ceiling (batch ${batch}${options.followers === false ? ', bets_view alone' : ''}${
      lanes > 1 ? `, ${lanes} partitions at once` : ''
    }): ${f.median} events/s`,
  );
  return f;
}

/** A string's 32-bit hash (Java's String.hashCode): spreads bets over lanes. */
export function keyHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

export async function benchImmediate(ctx: BenchContext, count: number): Promise<Figure> {
  const store = createEventStore({ pool: ctx.pool, publisher: noPublisher, inline: inlineProjection });
  const f = await repeat(ctx.runs, async (run) => {
    await resetTables(ctx.pool);
    const all = events(ctx, count, 400 + run);
    const started = performance.now();
    for (const e of all) await store.append([e], { projection: 'immediate' });
    return perSecond(count, performance.now() - started);
  });
  ctx.log(`immediate (one event per transaction): ${f.median} events/s`);
  return f;
}

export async function fillTopic(ctx: BenchContext, topic: string, count: number): Promise<void> {
  await fillTopicWith(
    ctx,
    topic,
    events(ctx, count, 500).map((e) => encodeEvent(e)),
  );
}

/** Creates `topic` (6 partitions) and publishes `messages` to it, 2,000 a request, acks=all. */
export async function fillTopicWith(
  ctx: BenchContext,
  topic: string,
  messages: ReadonlyArray<{ key: string; value: string }>,
): Promise<void> {
  await ensureTopic(ctx.kafka, topic, 6);
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 2_000)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
  } finally {
    await producer.disconnect();
  }
}

/** A process's peak resident memory so far (VmHWM), in MB, from /proc (Linux). */
export function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

export interface EndToEndResult {
  readonly eventsPerSecond: Figure;
  readonly peakRssMb: Figure;
  readonly throughput: Array<[number, number]>;
  /** Microseconds per event spent in each stage (summed over the workers' parallel flushes), first run. */
  readonly stageMicrosPerEvent: Partial<Record<Stage, number>>;
}

/** The worker's per-stage seconds, read from its own /metrics. */
async function stageSeconds(port: number): Promise<Partial<Record<Stage, number>>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const seconds: Partial<Record<Stage, number>> = {};
  for (const m of text.matchAll(/^projector_stage_seconds_total\{stage="(\w+)"\} ([\d.e+-]+)$/gm)) {
    seconds[m[1] as Stage] = Number(m[2]);
  }
  return seconds;
}

/** Worker processes draining a pre-filled topic into an empty view. */
export async function benchEndToEnd(
  ctx: BenchContext,
  topic: string,
  count: number,
  workers: number,
  flush: { maxEvents: number; intervalMs: number },
  settings: Record<string, string> = {},
): Promise<EndToEndResult> {
  let throughput: Array<[number, number]> = [];
  let stageMicrosPerEvent: Partial<Record<Stage, number>> = {};
  const rss: number[] = [];
  const f = await repeat(ctx.runs, async (run) => {
    await ctx.pool.query(`TRUNCATE ${PROJECTED_TABLES}`);
    const group = `bench-${Date.now()}-${run}`;
    const ports = await Promise.all(Array.from({ length: workers }, () => freePort()));
    // The end offsets once, up front: asking the broker four times a second while measuring would
    // load the same two cores the workers run on (it cost the default-buffer run ~20 %).
    const end = [...(await topicEndOffsets(ctx.kafka, topic)).values()].reduce((a, b) => a + b, 0);
    const started = performance.now();
    const children = ports.map((port) =>
      workerProcess(ctx, topic, group, {
        FLUSH_MAX_EVENTS: String(flush.maxEvents),
        FLUSH_INTERVAL_MS: String(flush.intervalMs),
        ...settings,
        HTTP_PORT: String(port),
      }),
    );
    const series: Array<[number, number]> = [];
    let peak = 0;
    for (;;) {
      const { rows } = await ctx.pool.query<{ done: number }>(
        'SELECT coalesce(sum(next_offset), 0)::bigint AS done FROM projection_checkpoints',
      );
      series.push([(performance.now() - started) / 1000, rows[0]!.done]);
      peak = Math.max(peak, peakRssMb(children[0]!.pid!));
      if (rows[0]!.done >= end) break;
      if (performance.now() - started > 15 * 60_000)
        throw new Error('end-to-end bench did not catch up in 15 minutes');
      await sleep(250);
    }
    const ms = performance.now() - started;
    peak = Math.max(peak, peakRssMb(children[0]!.pid!));
    if (run === 0) {
      const perWorker = await Promise.all(ports.map((port) => stageSeconds(port)));
      stageMicrosPerEvent = {};
      for (const stage of STAGES) {
        const total = perWorker.reduce((sum, s) => sum + (s[stage] ?? 0), 0);
        stageMicrosPerEvent[stage] = round1((total / count) * 1e6);
      }
    }
    await Promise.all(
      children.map(
        (c) => new Promise<void>((resolve) => (c.once('close', () => resolve()), c.kill('SIGTERM'))),
      ),
    );
    rss.push(peak);
    if (run === 0) {
      // Events per second between samples: the throughput-over-time chart.
      throughput = series
        .slice(1)
        .map(([t, done], i) => [t, Math.round((done - series[i]![1]) / (t - series[i]![0]))]);
    }
    return perSecond(count, ms);
  });
  ctx.log(
    `end to end, ${workers} worker(s), flush ${flush.maxEvents}/${flush.intervalMs}ms ${JSON.stringify(settings)}: ${f.median} events/s`,
  );
  return { eventsPerSecond: f, peakRssMb: figure(rss), throughput, stageMicrosPerEvent };
}

export interface LatencyResult {
  /** Where the worker wrote: the database platform of the bench's DATABASE_URL. */
  readonly platform: Platform;
  readonly rate: number;
  readonly seconds: number;
  readonly settings: Record<string, string>;
  /** Producers appending at once, each its share of the tenants, and the events in each append. */
  readonly producers: number;
  readonly batchSize: number;
  readonly samples: number;
  /** Each a median over the runs of that run's quantile, in ms. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p99Runs: Figure;
  /**
   * The rate the stream was appended at: a producer appends a batch at a time, so the stream falls
   * short of `rate` where an append takes longer than the producers' share of the second.
   */
  readonly appendedPerSecond: Figure;
  /** The worker's CPU time (user + system) per 1,000 events: what promptness costs. */
  readonly workerCpuMsPer1000: Figure;
  readonly histogram: Array<[string, number]>;
}

/**
 * Event timestamp → view row, at a steady rate through the real append path and one worker; each
 * run its own topic and a fresh view. `settings`: worker environment on top of the defaults.
 */
export async function benchLatency(
  ctx: BenchContext,
  rate: number,
  seconds: number,
  settings: Record<string, string> = {},
  producers = 1,
): Promise<LatencyResult> {
  // Each producer appends every 10 ms at the rate asked.
  const batchSize = Math.max(1, Math.round(rate / 100 / producers));
  const quantiles: Array<{ p50: number; p95: number; p99: number }> = [];
  const cpu: number[] = [];
  const appendedRates: number[] = [];
  let histogram: Array<[string, number]> = [];
  let samples = 0;
  for (let run = 0; run < ctx.runs; run++) {
    const one = await latencyRun(ctx, { rate, seconds, producers, batchSize }, settings, 600 + run);
    quantiles.push(one.quantiles);
    cpu.push(round1((one.cpuMs / (rate * seconds)) * 1000));
    appendedRates.push(one.appendedPerSecond);
    if (run === 0) histogram = latencyHistogram(one.sorted);
    samples += one.sorted.length;
  }
  const median = (q: 'p50' | 'p95' | 'p99') => figure(quantiles.map((x) => x[q])).median;
  const result: LatencyResult = {
    platform: dialectOf(ctx.pool).platform,
    rate,
    seconds,
    settings,
    producers,
    batchSize,
    samples,
    p50: median('p50'),
    p95: median('p95'),
    p99: median('p99'),
    p99Runs: figure(quantiles.map((x) => x.p99)),
    appendedPerSecond: figure(appendedRates),
    workerCpuMsPer1000: figure(cpu),
    histogram,
  };
  ctx.log(
    `latency at ${rate}/s from ${producers} producer(s) in batches of ${batchSize} (appended at ${result.appendedPerSecond.median}/s) on ${result.platform} ${JSON.stringify(settings)}: p50 ${result.p50} ms, p95 ${result.p95} ms, p99 ${result.p99} ms (runs ${result.p99Runs.runs.join(', ')}), worker CPU ${result.workerCpuMsPer1000.median} ms per 1,000 events`,
  );
  return result;
}

async function latencyRun(
  ctx: BenchContext,
  stream: { rate: number; seconds: number; producers: number; batchSize: number },
  settings: Record<string, string>,
  seed: number,
) {
  const { rate, seconds, producers, batchSize } = stream;
  await resetTables(ctx.pool);
  const topic = `bench-latency-${Date.now()}`;
  await ensureTopic(ctx.kafka, topic, 6);
  const worker = workerProcess(ctx, topic, `${topic}-g`, settings);
  await sleep(3_000);
  const cpuBefore = cpuMs(worker.pid!);
  const { createKafkaPublisher } = await import('../src/kafka/publisher.js');
  const publisher = createKafkaPublisher(ctx.kafka, topic);
  const store = createEventStore({ pool: ctx.pool, publisher, inline: inlineProjection });
  const appended = await runSimulation(store, {
    events: rate * seconds,
    rate,
    tenants: 50,
    batchSize,
    producers,
    duplicateRate: 0,
    seed,
    openBets: 5_000,
  });
  await publisher.close();
  while (!(await isCaughtUp(ctx.pool, ctx.kafka, 'bets_view', topic))) await sleep(200);
  const workerCpuMs = cpuMs(worker.pid!) - cpuBefore;
  await new Promise<void>((resolve) => (worker.once('close', () => resolve()), worker.kill('SIGTERM')));
  const { rows } = await ctx.pool.query<{ ms: number }>(
    `SELECT (extract(epoch FROM projected_at) * 1000 - last_updated_timestamp)::float8 AS ms FROM bets_view`,
  );
  const sorted = rows.map((r) => r.ms).sort((a, b) => a - b);
  const q = (p: number) => Math.round(quantile(sorted, p));
  return {
    sorted,
    quantiles: { p50: q(0.5), p95: q(0.95), p99: q(0.99) },
    cpuMs: workerCpuMs,
    appendedPerSecond: perSecond(appended.appended, appended.elapsedMs),
  };
}

function latencyHistogram(sorted: readonly number[]): Array<[string, number]> {
  const edges = [10, 25, 50, 100, 150, 250, 500, 1000, Infinity];
  let from = 0;
  return edges.map((edge) => {
    const n = sorted.filter((v) => v >= from && v < edge).length;
    const label = edge === Infinity ? `≥${from}` : `<${edge}`;
    from = edge;
    return [label, n];
  });
}

/** Empty tables, then `count` events of `tenants` tenants in bet_events (a rebuild's input). */
export async function fillEvents(
  ctx: BenchContext,
  count: number,
  { tenants = 50, seed = 1 }: { tenants?: number; seed?: number } = {},
): Promise<void> {
  ctx.log(`filling bet_events with ${count} events of ${tenants} tenants...`);
  await resetTables(ctx.pool);
  const store = createEventStore({ pool: ctx.pool, publisher: noPublisher, inline: inlineProjection });
  await runSimulation(store, {
    events: count,
    rate: 0,
    tenants,
    batchSize: 1_000,
    duplicateRate: 0,
    seed,
    openBets: 20_000,
    v2Share: ctx.v2Share,
  });
}

/** Ours (shadow + swap) against the reference document's TRUNCATE + INSERT … SELECT DISTINCT ON. */
export async function benchRebuild(ctx: BenchContext, count: number) {
  const { rows } = await ctx.pool.query<{ n: number; v2: boolean }>(
    `SELECT count(*)::bigint AS n, bool_or(event_type LIKE 'V2_%') AS v2 FROM bet_events`,
  );
  if (rows[0]!.n !== count || Boolean(rows[0]!.v2) !== ctx.v2Share > 0) await fillEvents(ctx, count);
  const { rows: bets } = await ctx.pool.query<{ n: number }>('SELECT count(*)::bigint AS n FROM bets_view');
  if (bets[0]!.n === 0) await rebuildBetsView(ctx.pool);
  await ctx.pool.query('DROP TABLE IF EXISTS bench_reference_view');
  await ctx.pool.query('CREATE TABLE bench_reference_view (LIKE bets_view INCLUDING ALL)');
  await ctx.pool.query('VACUUM ANALYZE bet_events');
  // Ours and the reference alternate, each run's pair in the other order than the last, so neither
  // has the warmer caches or the quieter minute throughout.
  const reports: RebuildReport[] = [];
  const referenceRuns: number[] = [];
  const runOurs = async () => {
    reports.push(await rebuildBetsView(ctx.pool));
  };
  const runReference = async () => {
    const started = performance.now();
    await ctx.pool.query('TRUNCATE bench_reference_view');
    await ctx.pool.query(REFERENCE_REBUILD);
    referenceRuns.push(Math.round(performance.now() - started));
  };
  for (let run = 0; run < ctx.runs; run++) {
    for (const part of run % 2 === 0 ? [runOurs, runReference] : [runReference, runOurs]) await part();
  }
  const ours = figure(reports.map((r) => r.totalMs));
  const oursLiveMs = figure(reports.map((r) => r.liveMs));
  // Where our rebuild spends its time: the set-based fill, the index builds, the locked swap, the
  // rest until the new table is live (shadow setup, the catch-up before the lock), then ANALYZE.
  const phases = {
    fillMs: figure(reports.map((r) => r.fillMs)),
    indexMs: figure(reports.map((r) => r.indexMs)),
    lockedMs: figure(reports.map((r) => r.lockedMs)),
    otherMs: figure(reports.map((r) => r.liveMs - r.fillMs - r.indexMs - r.lockedMs)),
    analyzeMs: figure(reports.map((r) => r.analyzeMs)),
  };
  const reference = figure(referenceRuns);
  /** Until live / the reference, run by run (each pair ran back to back). */
  const liveRatios = reports.map((r, i) => round2(r.liveMs / referenceRuns[i]!));
  await ctx.pool.query('DROP TABLE bench_reference_view');
  ctx.log(`rebuild of ${count} events: ours ${ours.median} ms, reference ${reference.median} ms`);
  return { events: count, oursMs: ours, oursLiveMs, referenceMs: reference, phases, liveRatios };
}

/**
 * The reference document's rebuild, as written there (latest event per bet by timestamp), into a
 * scratch table. It is not equivalent — it loses fields of earlier events and orders by producer
 * time instead of version — and it empties the live view while it runs.
 */
const REFERENCE_REBUILD = `
INSERT INTO bench_reference_view (tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, status,
                                  version, last_event_type, last_updated_timestamp)
WITH latest_events AS (
  SELECT DISTINCT ON (tenant_id, aggregate_id)
    tenant_id, aggregate_id, idempotency_key, event_type, event_data, "timestamp", version
  FROM bet_events
  ORDER BY tenant_id, aggregate_id, "timestamp" DESC
)
SELECT tenant_id, aggregate_id, idempotency_key, event_data->>'user_id', (event_data->>'amount')::numeric,
       (event_data->>'odds')::numeric, event_data->>'selection',
       CASE WHEN event_type = 'V1_BET_PLACED' THEN 'placed' WHEN event_type = 'V1_BET_ACCEPTED' THEN 'accepted'
            WHEN event_type = 'V1_BET_REJECTED' THEN 'rejected' WHEN event_type = 'V1_BET_CANCELLED' THEN 'cancelled'
            WHEN event_type = 'V1_BET_SETTLED' THEN event_data->>'result' ELSE 'cashed_out' END,
       version, event_type, "timestamp"
FROM latest_events`;
