/**
 * What every fault scenario shares: a load through the real append path, and the ending — a fresh
 * worker drains the topic, then the oracle (every view row equals the fold of its bet's events,
 * nothing lagging), recorded as a row of the report printed after the suite.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { inlineProjection } from '../../projections/registry.js';
import { betsBehind } from '../../projections/bets/verify.js';
import { isCaughtUp } from '../../consumers/lag.js';
import type { BetEvent } from '../../src/events/types.js';
import { createKafkaPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { requiredEnv, type TestDatabase } from './db.js';
import { viewMismatches, waitFor } from './oracle.js';
import { runProjector, startProjector } from './processes.js';
import { testSeed } from './seed.js';

export interface ScenarioRow {
  scenario: string;
  produced: number;
  projectedBets: number;
  deadLettered: number;
  duplicatesSkipped: number;
  mismatches: number;
  recoveryMs: number;
}

export function scenarioReport(rows: readonly ScenarioRow[]): string {
  return `\n| scenario | events produced | bets projected | dead-lettered | duplicate appends recognised | mismatches | recovery ms |\n|---|---|---|---|---|---|---|\n${rows
    .map(
      (r) =>
        `| ${r.scenario} | ${r.produced} | ${r.projectedBets} | ${r.deadLettered} | ${r.duplicatesSkipped} | ${r.mismatches} | ${r.recoveryMs} |`,
    )
    .join('\n')}\n`;
}

/** What a scenario's `projector worker` processes run with. */
export function workerEnv(db: TestDatabase): Record<string, string> {
  return {
    DATABASE_URL: db.workerUrl,
    KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
    HTTP_PORT: '0',
    SWEEP_INTERVAL_MS: '0',
    // A SIGKILLed member holds its partitions until its session expires: keep that short here.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
  };
}

/** A realistic stream for one scenario: 8 tenants, a seed fixed by the test. */
export const scenarioStream = (events: number): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants: 8, openBets: 300, now: () => Date.now() }),
];

export interface SimulateRun {
  readonly code: number | null;
  /** The JSON report `projector simulate` prints last. */
  readonly report: { appended?: number; duplicates?: number; unpublished?: number };
  readonly stderr: string;
  /** The retries it announced on stderr. */
  readonly retries: number;
}

/**
 * What a producer that rode through a fault shows: it finished, published every batch, announced
 * its retries on stderr, and stored every event once.
 */
export async function expectProducerFinished(
  db: TestDatabase,
  produced: SimulateRun,
  events: number,
): Promise<void> {
  expect({ code: produced.code, unpublished: produced.report.unpublished }).toEqual({
    code: 0,
    unpublished: 0,
  });
  expect(produced.retries).toBeGreaterThan(0);
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bet_events');
  expect(rows[0]!.n).toBe(events);
}

/**
 * The real producer: `projector simulate` as its own process, appending and publishing `events`
 * at `rate` events/s, with its retries within RETRY_* (about a minute here).
 */
export async function simulateProcess(
  env: Record<string, string>,
  topic: string,
  flags: { events: number; rate: number; seed: number },
): Promise<SimulateRun> {
  const run = await runProjector(
    [
      'simulate',
      ...['--events', String(flags.events), '--rate', String(flags.rate)],
      ...['--tenants', '8', '--seed', String(flags.seed)],
    ],
    { ...env, KAFKA_TOPIC: topic, RETRY_INITIAL_MS: '100', RETRY_MAX_MS: '2000', RETRY_MAX_ATTEMPTS: '60' },
  );
  const report = JSON.parse(run.stdout.trim().split('\n').pop() || '{}') as SimulateRun['report'];
  const retries = run.stderr.split('\n').filter((line) => line.includes('retrying in')).length;
  return { code: run.code, report, stderr: run.stderr, retries };
}

/**
 * Appends `events` through the real path (published to `topic`) at about `rate` events/s. With
 * `retry`, a batch that fails on a retryable error (a node away, a connection killed) is sent
 * again, as a producer would: appends are idempotent, so a batch that did commit comes back as
 * duplicates.
 */
export async function appendLoad(
  db: TestDatabase,
  kafka: Kafka,
  topic: string,
  events: BetEvent[],
  rate: number,
  options: { retry?: boolean } = {},
): Promise<{ duplicates: number; retried: number }> {
  const publisher = createKafkaPublisher(kafka, topic);
  let duplicates = 0;
  let retried = 0;
  const policy = { initialMs: 100, maxMs: 2_000, maxAttempts: options.retry ? 60 : 1 };
  // The store's own retries: each step (store, the read-back for publishing, publish) on its own.
  const store = createEventStore({
    pool: db.workerPool,
    publisher,
    inline: inlineProjection,
    retry: { policy, onRetry: () => retried++ },
  });
  try {
    const started = Date.now();
    for (let i = 0; i < events.length; i += 50) {
      const batch = events.slice(i, i + 50);
      const append = () => store.append(batch);
      await append();
      // A producer retry after a lost acknowledgement, now and then.
      if (i % 500 === 0) duplicates += (await append()).duplicates.length;
      const ahead = ((i + 50) / rate) * 1000 - (Date.now() - started);
      if (ahead > 0) await sleep(ahead);
    }
  } finally {
    await publisher.close();
  }
  return { duplicates, retried };
}

/** A fresh worker drains the topic; then the oracle, recorded in `report`. */
export async function settle(
  context: { db: TestDatabase; kafka: Kafka; env: Record<string, string>; report: ScenarioRow[] },
  run: {
    topic: string;
    group: string;
    scenario: string;
    produced: number;
    duplicates: number;
    faultEnded: number;
  },
): Promise<void> {
  const { db, kafka, env, report } = context;
  const { topic, group } = run;
  const finisher = startProjector(['worker'], { ...env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group });
  try {
    await finisher.waitForLog('"msg":"running"', 60_000);
    await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 120_000, 200);
  } finally {
    finisher.child.kill('SIGTERM');
  }
  expect(await finisher.exited).toBe(0);
  const mismatches = await viewMismatches(db.pool);
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM dead_letters WHERE topic = $1',
    [topic],
  );
  const { rows: bets } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bets_view');
  report.push({
    scenario: run.scenario,
    produced: run.produced,
    projectedBets: bets[0]!.n,
    deadLettered: rows[0]!.n,
    duplicatesSkipped: run.duplicates,
    mismatches: mismatches.length,
    recoveryMs: Date.now() - run.faultEnded,
  });
  expect(mismatches).toEqual([]);
  expect(await betsBehind(db.pool)).toBe(0);
}
