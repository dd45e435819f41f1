/**
 * `bench --only soak`: does anything grow in a long-running worker? One worker at the defaults (the
 * sweep on) projects events appended and published at a steady rate for --soak-minutes. Its
 * /metrics is scraped every 5 s; every minute the bench keeps its RSS, heap used and event-loop
 * delay p99 (from the scrapes), and the p99 event → view latency of the bets the view took in that
 * minute (read from bets_view itself, not from the worker's histogram). The verdict is on the last
 * two thirds of the run (the last 20 minutes of 30): RSS growth, heap growth, and the p99 of its
 * last third against its first.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isCaughtUp } from '../consumers/lag.js';
import { inlineProjection } from '../projections/registry.js';
import { freePort } from '../src/freePort.js';
import { createKafkaPublisher } from '../src/kafka/publisher.js';
import { ensureTopic } from '../src/kafka/topics.js';
import { runSimulation } from '../src/simulate/run.js';
import { createEventStore } from '../src/store/eventStore.js';
import { PROJECTED_TABLES, workerProcess, type BenchContext } from './parts.js';
import { quantile } from './stats.js';

const SCRAPE_MS = 5_000;

/**
 * One minute of the run. RSS and heap swing by tens of MB with each garbage collection, so a
 * minute keeps the lowest of its twelve scrapes (the floor after a collection, where a leak shows)
 * and the highest.
 */
export interface SoakSample {
  readonly minute: number;
  readonly rssFloorMb: number;
  readonly rssPeakMb: number;
  readonly heapFloorMb: number;
  readonly heapPeakMb: number;
  /** The median of the minute's scrapes (prom-client resets the delay histogram at each). */
  readonly eventLoopP99Ms: number;
  /** The worker's mean flush transaction in the minute (its histogram's sum and count). */
  readonly flushMeanMs: number;
  readonly eventToViewP99Ms: number;
  readonly betsProjected: number;
}

export interface SoakVerdict {
  /** The window judged: from this minute to the end. */
  readonly fromMinute: number;
  /** The least-squares line through the window's floors, from its first minute to its last. */
  readonly rssGrowthMb: number;
  readonly heapGrowthMb: number;
  /** Medians of the window's first and last thirds. */
  readonly eventToViewP99FirstMs: number;
  readonly eventToViewP99LastMs: number;
  readonly flushMeanFirstMs: number;
  readonly flushMeanLastMs: number;
}

export interface SoakFigures {
  readonly minutes: number;
  readonly rate: number;
  readonly appended: number;
  /** Rows at the end: what the database grew to while the worker ran. */
  readonly betEvents: number;
  readonly betsView: number;
  readonly samples: readonly SoakSample[];
  readonly verdict: SoakVerdict;
}

const median = (values: readonly number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The rise of the least-squares line through (minute, value) over the minutes it spans. */
function trend(points: ReadonlyArray<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return (sxy / sxx) * (points[n - 1]![0] - points[0]![0]);
}

/** Pure: the flatness of the last two thirds of the samples. */
export function soakVerdict(samples: readonly SoakSample[]): SoakVerdict {
  const window = samples.slice(Math.floor(samples.length / 3));
  const third = Math.max(1, Math.floor(window.length / 3));
  const thirds = (pick: (s: SoakSample) => number) => [
    round(median(window.slice(0, third).map(pick)), 0),
    round(median(window.slice(-third).map(pick)), 0),
  ];
  const [p99First, p99Last] = thirds((s) => s.eventToViewP99Ms);
  const [flushFirst, flushLast] = thirds((s) => s.flushMeanMs);
  return {
    fromMinute: window[0]?.minute ?? 0,
    rssGrowthMb: round(trend(window.map((s) => [s.minute, s.rssFloorMb]))),
    heapGrowthMb: round(trend(window.map((s) => [s.minute, s.heapFloorMb]))),
    eventToViewP99FirstMs: p99First!,
    eventToViewP99LastMs: p99Last!,
    flushMeanFirstMs: flushFirst!,
    flushMeanLastMs: flushLast!,
  };
}

/** The worker's gauges that a soak follows, from one scrape. */
function gauges(text: string) {
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rss: value('process_resident_memory_bytes'),
    heap: value('nodejs_heap_size_used_bytes'),
    loopP99: value('nodejs_eventloop_lag_p99_seconds'),
    flushSeconds: value('projector_flush_duration_seconds_sum'),
    flushes: value('projector_flush_duration_seconds_count'),
  };
}

const LATENCY_IN_MINUTE = `
SELECT count(*)::int AS bets,
       coalesce(percentile_cont(0.99) WITHIN GROUP (
         ORDER BY extract(epoch FROM projected_at) * 1000 - last_updated_timestamp), 0)::float8 AS p99
FROM bets_view WHERE projected_at >= $1 AND projected_at < $2`;

export async function benchSoak(ctx: BenchContext, minutes: number, rate: number): Promise<SoakFigures> {
  await ctx.pool.query(`TRUNCATE bet_events, ${PROJECTED_TABLES}`);
  const topic = `bench-soak-${Date.now()}`;
  await ensureTopic(ctx.kafka, topic, 6);
  const port = await freePort();
  const worker = workerProcess(ctx, topic, `${topic}-g`, {
    HTTP_PORT: String(port),
    // The soak runs the worker at its defaults: the sweep on.
    SWEEP_INTERVAL_MS: undefined,
  });
  const exited = new Promise<number | null>((resolve) => worker.once('close', (code) => resolve(code)));
  const publisher = createKafkaPublisher(ctx.kafka, topic);
  const store = createEventStore({ pool: ctx.pool, publisher, inline: inlineProjection });
  const samples: SoakSample[] = [];
  let scrapes: Array<ReturnType<typeof gauges>> = [];
  let producing = true;
  try {
    await sleep(3_000);
    ctx.log(`soak: ${minutes} min at ${rate} events/s, one worker at the defaults (sweep on)...`);
    const started = Date.now();
    const appending = runSimulation(store, {
      events: rate * minutes * 60,
      rate,
      tenants: 50,
      batchSize: Math.max(1, Math.round(rate / 100)),
      duplicateRate: 0,
      seed: 900,
      openBets: 5_000,
      v2Share: ctx.v2Share,
    }).finally(() => (producing = false));
    let minuteStarted = new Date();
    let before: ReturnType<typeof gauges> | undefined;
    while (producing) {
      await Promise.race([sleep(SCRAPE_MS), appending.catch(() => undefined)]);
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      scrapes.push(gauges(await response.text()));
      const minute = Math.floor((Date.now() - started) / 60_000);
      if (minute <= samples.length || !producing) continue;
      const until = new Date();
      const { rows } = await ctx.pool.query<{ bets: number; p99: number }>(LATENCY_IN_MINUTE, [
        minuteStarted,
        until,
      ]);
      const first = before ?? scrapes[0]!;
      const last = scrapes.at(-1)!;
      const mb = (bytes: number) => round(bytes / 2 ** 20);
      samples.push({
        minute,
        rssFloorMb: mb(Math.min(...scrapes.map((g) => g.rss))),
        rssPeakMb: mb(Math.max(...scrapes.map((g) => g.rss))),
        heapFloorMb: mb(Math.min(...scrapes.map((g) => g.heap))),
        heapPeakMb: mb(Math.max(...scrapes.map((g) => g.heap))),
        eventLoopP99Ms: round(median(scrapes.map((g) => g.loopP99 * 1000)), 2),
        flushMeanMs: round(
          ((last.flushSeconds - first.flushSeconds) / Math.max(1, last.flushes - first.flushes)) * 1000,
        ),
        eventToViewP99Ms: round(rows[0]!.p99, 0),
        betsProjected: rows[0]!.bets,
      });
      ctx.log(`soak minute ${minute}: ${JSON.stringify(samples.at(-1))}`);
      before = last;
      scrapes = [];
      minuteStarted = until;
    }
    const { appended } = await appending;
    while (!(await isCaughtUp(ctx.pool, ctx.kafka, 'bets_view', topic))) await sleep(500);
    const { rows } = await ctx.pool.query<{ events: string; bets: string }>(
      'SELECT (SELECT count(*) FROM bet_events) AS events, (SELECT count(*) FROM bets_view) AS bets',
    );
    return {
      minutes,
      rate,
      appended,
      betEvents: Number(rows[0]!.events),
      betsView: Number(rows[0]!.bets),
      samples,
      verdict: soakVerdict(samples),
    };
  } finally {
    await publisher.close();
    worker.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) ctx.log(`soak: the worker exited ${code}`);
  }
}
