/**
 * The fault suite: real worker processes against real Kafka and PostgreSQL under a running load,
 * each scenario ending with the same oracle — every bet's view row equals the ordered fold of its
 * events, every event is projected or dead-lettered, nothing is applied twice (the view would
 * differ from the fold if it were).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { inlineProjection, reconciler } from '../../projections/registry.js';
import { betsBehind } from '../../projections/bets/verify.js';
import { isCaughtUp } from '../../consumers/lag.js';
import { sweepOnce } from '../../consumers/sweep.js';
import { createKafkaPublisher, noPublisher } from '../../src/kafka/publisher.js';
import { toEnvelopeJson, type BetEvent } from '../../src/events/types.js';
import { seededRandom } from '../../src/simulate/generator.js';
import { createEventStore, ConcurrencyConflictError } from '../../src/store/eventStore.js';
import { createTestDatabase, onCitus, requiredEnv, type TestDatabase } from '../support/db.js';
import { javaProduce } from '../support/javaClient.js';
import { createTopic, produceRaw, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { runProjector, startProjector, type ProjectorProcess } from '../support/processes.js';
import {
  appendLoad,
  scenarioReport,
  scenarioStream,
  settle as settleScenario,
  expectProducerFinished,
  simulateProcess,
  workerEnv,
  type ScenarioRow,
} from '../support/scenarios.js';

const table: ScenarioRow[] = [];

/**
 * The local PostgreSQL cluster, when the tests run against it and may stop and start it (the
 * outage scenario needs that; against a remote or containerised server it is not registered).
 */
function localCluster(): string | undefined {
  // A Citus cluster has nodes of its own (test/citus has its outage scenarios).
  if (onCitus()) return undefined;
  const url = new URL(requiredEnv('DATABASE_URL'));
  if (!['127.0.0.1', 'localhost'].includes(url.hostname) || !existsSync('/etc/postgresql')) return undefined;
  try {
    execFileSync('pg_lsclusters', [], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return readdirSync('/etc/postgresql')[0];
}

function pgCluster(version: string, action: 'start' | 'stop'): void {
  const args = [
    '--skip-systemctl-redirect',
    version,
    'main',
    action,
    ...(action === 'stop' ? ['-m', 'fast'] : []),
  ];
  execFileSync('pg_ctlcluster', args, { stdio: 'ignore' });
}

/**
 * The broker of `npm run stack:up`, when the tests run against it and may restart it (the broker
 * restart scenario needs that; against another broker it is not registered).
 */
function localBroker(): string | undefined {
  const port = process.env['KAFKA_PORT'] ?? '9092';
  if (requiredEnv('KAFKA_BROKERS') !== `127.0.0.1:${port}`) return undefined;
  const cache = process.env['BET_PROJECTOR_CACHE'] ?? path.join(homedir(), '.cache', 'bet-projector');
  if (!existsSync(path.join(cache, `run-${port}`, 'kafka.pid'))) return undefined;
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/stack.sh');
}

/** Samples a worker's resident memory from its own /metrics until stopped. */
function sampleRss(worker: ProjectorProcess): { samples: Array<[number, number]>; stop(): void } {
  const samples: Array<[number, number]> = [];
  const port = worker.logField('serving /metrics, /healthz, /readyz', 'port') as number;
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${port}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        const match = /^process_resident_memory_bytes (\d+)/m.exec(text);
        if (match) samples.push([Date.now(), Number(match[1])]);
      })
      .catch(() => undefined);
  }, 250);
  return { samples, stop: () => clearInterval(timer) };
}

const peakMb = (samples: Array<[number, number]>, from: number, to: number) =>
  Math.round(Math.max(0, ...samples.filter(([t]) => t >= from && t <= to).map(([, rss]) => rss)) / 1_048_576);

const stream = scenarioStream;

describe('fault suite', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let env: Record<string, string>;
  beforeAll(() => {
    kafka = testKafka();
  });
  // Each scenario gets its own database: one scenario's failure must not colour the next one's oracle.
  beforeEach(async () => {
    db = await createTestDatabase();
    env = workerEnv(db);
  });
  afterEach(async () => db.drop());
  afterAll(() => {
    process.stdout.write(scenarioReport(table));
  });

  const load = (topic: string, events: BetEvent[], rate: number) =>
    appendLoad(db, kafka, topic, events, rate);
  const settle = (
    topic: string,
    group: string,
    scenario: string,
    produced: number,
    duplicates: number,
    faultEnded: number,
  ) =>
    settleScenario(
      { db, kafka, env, report: table },
      { topic, group, scenario, produced, duplicates, faultEnded },
    );

  it('worker killed with SIGKILL inside its flushes, 10 times, restarted each time', async () => {
    const topic = await createTopic(kafka, 'fault-kill', 3);
    const group = uniqueName('g');
    const events = stream(6_000);
    const loading = load(topic, events, 2_000);
    const landed: string[] = [];
    for (let i = 0; i < 10; i++) {
      // A short pause after each commit, before the offset commit, widens the second window.
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        PROJECTOR_FAULTS: 'slow-flush-ms=40',
      });
      await worker.waitForLog('"msg":"running"', 30_000);
      landed.push(await killInsideAFlush(worker, topic, group));
      await worker.exited;
    }
    // Each kill is shown to have landed where a crash costs the most: it cut a flush's transaction
    // (the database aborted it), or came after its COMMIT and before Kafka's offset commit (the
    // database's checkpoint ahead of the group's committed offset).
    expect(landed.filter((where) => where === 'missed')).toEqual([]);
    const { duplicates } = await loading;
    const cut = landed.filter((where) => where === 'transaction cut').length;
    await settle(
      topic,
      group,
      `SIGKILL ×10 under load: ${cut} cut a flush's transaction, ${10 - cut} fell between its COMMIT and the offset commit`,
      events.length,
      duplicates,
      Date.now(),
    );
  });

  /**
   * Waits for the worker to be inside a flush's transaction (its backend holds a transaction id),
   * SIGKILLs it, and says where the kill landed: the transaction aborted ('transaction cut'), or it
   * committed and the kill came before the offset commit ('after commit'), or neither ('missed').
   */
  async function killInsideAFlush(worker: ProjectorProcess, topic: string, group: string): Promise<string> {
    let xid: string | undefined;
    const deadline = Date.now() + 10_000;
    while (!xid && Date.now() < deadline) {
      const { rows } = await db.pool.query<{ xid: string }>(
        `SELECT backend_xid::text AS xid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'bet-projector:worker' AND backend_xid IS NOT NULL
          LIMIT 1`,
      );
      xid = rows[0]?.xid;
    }
    worker.child.kill('SIGKILL');
    if (!xid) return 'missed';
    await worker.exited;
    // The killed backend ends its transaction as soon as it notices the closed connection.
    let status = 'in progress';
    await waitFor('the killed flush to end', async () => {
      // The 32-bit xid made whole with the current epoch (a test database is far from wraparound).
      const { rows } = await db.pool.query<{ status: string }>(
        `SELECT pg_xact_status(((cur >> 32 << 32) + $1::bigint
                  - CASE WHEN $1::bigint > (cur & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8) AS status
           FROM (SELECT pg_current_xact_id()::text::bigint AS cur) c`,
        [xid],
      );
      status = rows[0]!.status;
      return status !== 'in progress';
    });
    if (status === 'aborted') return 'transaction cut';
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const kafkaAt = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      const { rows } = await db.pool.query<{ partition: number; next_offset: string }>(
        'SELECT partition, next_offset FROM projection_checkpoints WHERE topic = $1',
        [topic],
      );
      return rows.some((r) => Number(r.next_offset) > (kafkaAt.get(r.partition) ?? -1))
        ? 'after commit'
        : 'missed';
    } finally {
      await admin.disconnect();
    }
  }

  it('crash between the DB commit and the Kafka offset commit: redelivery is a no-op', async () => {
    const topic = await createTopic(kafka, 'fault-commit', 3);
    const group = uniqueName('g');
    const events = stream(6_000);
    let loaded = false;
    const loading = load(topic, events, 1_500).finally(() => (loaded = true));
    let crashes = 0;
    while (!loaded) {
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        PROJECTOR_FAULTS: 'crash-after-db-commit=5',
      });
      // With nothing left to flush, a worker never reaches its fifth commit: stop it instead.
      const timer = setTimeout(() => worker.child.kill('SIGTERM'), 8_000);
      if ((await worker.exited) === 137) crashes++;
      clearTimeout(timer);
    }
    expect(crashes).toBeGreaterThanOrEqual(2);
    const { duplicates } = await loading;
    await settle(topic, group, `crash after DB commit ×${crashes}`, events.length, duplicates, Date.now());
  });

  it('PostgreSQL connections terminated under load: the worker retries and catches up', async () => {
    const topic = await createTopic(kafka, 'fault-pg', 3);
    const group = uniqueName('g');
    const events = stream(4_000);
    const worker = startProjector(['worker'], {
      ...env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      RETRY_INITIAL_MS: '50',
      RETRY_MAX_ATTEMPTS: '20',
    });
    await worker.waitForLog('"msg":"running"', 30_000);
    const loading = load(topic, events, 1_000);
    // Kill the worker's backends while they are busy (mid-transaction), not just idle ones in its
    // pool, for as long as the load runs.
    let loaded = false;
    void loading.finally(() => (loaded = true));
    let busyKilled = 0;
    while (!loaded) {
      const { rows } = await db.pool.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
         WHERE application_name = 'bet-projector:worker' AND datname = $1 AND state <> 'idle'`,
        [db.name],
      );
      busyKilled += rows.filter((r) => r.killed).length;
      await sleep(20);
    }
    expect(busyKilled).toBeGreaterThan(0);
    const faultEnded = Date.now();
    const { duplicates } = await loading;
    try {
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 120_000, 200);
    } catch (error) {
      throw new Error(`${(error as Error).message}; worker logs:\n${worker.logs().slice(-4_000)}`);
    }
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.logs()).toContain('flush failed; retrying');
    await settle(
      topic,
      group,
      `pg_terminate_backend of busy connections ×${busyKilled}`,
      events.length,
      duplicates,
      faultEnded,
    );
  });

  const cluster = localCluster();
  if (cluster) {
    it('PostgreSQL stopped for 20 s under load: the worker waits it out, nothing acknowledged is lost', async () => {
      const topic = await createTopic(kafka, 'fault-outage', 3);
      const group = uniqueName('g');
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        KAFKA_SESSION_TIMEOUT_MS: '30000',
        RETRY_MAX_MS: '2000',
        RETRY_MAX_ATTEMPTS: '60',
      });
      await worker.waitForLog('"msg":"running"', 30_000);
      const rss = sampleRss(worker);
      // About 30 s of load at ~1,000 events/s: before, during and after the outage.
      const events = stream(30_000);
      const publisher = createKafkaPublisher(kafka, topic);
      const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
      const acknowledged: BetEvent[] = [];
      let refused = 0;
      const producing = (async () => {
        for (let i = 0; i < events.length; i += 50) {
          try {
            const result = await store.append(events.slice(i, i + 50));
            acknowledged.push(...result.appended);
          } catch {
            refused++; // the producer sees the outage as errors; a real one would retry later
          }
          await sleep(50);
        }
      })();
      // Events already stored whose publication reaches Kafka during the outage: the worker is
      // certain to have flushes to retry while the server is down.
      const stored = stream(10_000);
      const quiet = createEventStore({
        pool: db.workerPool,
        publisher: noPublisher,
        inline: inlineProjection,
      });
      for (let i = 0; i < stored.length; i += 200) await quiet.append(stored.slice(i, i + 200));
      acknowledged.push(...stored);
      await sleep(1_000);
      const outageStarted = Date.now();
      pgCluster(cluster, 'stop');
      try {
        await produceRaw(
          kafka,
          topic,
          stored.map((e) => ({
            key: `${e.tenantId}:${e.aggregateId}`,
            value: JSON.stringify(toEnvelopeJson(e)),
          })),
        );
        await sleep(20_000);
      } finally {
        pgCluster(cluster, 'start');
      }
      const faultEnded = Date.now();
      rss.stop();
      // Paused, not piling up: with 10,000 events waiting in Kafka for a database that is down,
      // the worker's memory stays where it was before the outage (bounded fetches, at most a few
      // flushes ahead per partition, consumption paused while a flush retries).
      const before = peakMb(rss.samples, 0, outageStarted);
      const during = peakMb(rss.samples, outageStarted, faultEnded);
      expect(before).toBeGreaterThan(0);
      expect(during).toBeLessThan(before + 64);
      await waitFor('PostgreSQL to answer', async () => {
        try {
          await db.pool.query('SELECT 1');
          return true;
        } catch {
          return false;
        }
      });
      await producing;
      await publisher.close();
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 120_000, 200);
      expect(worker.child.exitCode).toBeNull();
      expect(worker.logs()).toContain('flush failed; retrying');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(refused).toBeGreaterThan(0);
      // Everything the producer was told is stored, is stored.
      const { rows } = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM bet_events WHERE idempotency_key = ANY($1)',
        [acknowledged.map((e) => e.idempotencyKey)],
      );
      expect(rows[0]!.n).toBe(acknowledged.length);
      // A batch whose COMMIT landed as the server went down was stored but never published: that
      // is the reconciliation sweep's job.
      await sweepOnce(db.pool, { sweepIntervalMs: 1, sweepWindowMs: 3_600_000, sweepGraceMs: 0 }, reconciler);
      await settle(
        topic,
        group,
        `PostgreSQL stopped 20 s under load (worker RSS peak ${before} MB before, ${during} MB during)`,
        acknowledged.length,
        0,
        faultEnded,
      );
    });
  }

  if (cluster) {
    it('PostgreSQL restarted under a running `projector simulate`: the producer retries, finishes, nothing is lost', async () => {
      const topic = await createTopic(kafka, 'fault-pg-producer', 3);
      const group = uniqueName('g');
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        RETRY_MAX_MS: '2000',
        RETRY_MAX_ATTEMPTS: '60',
      });
      await worker.waitForLog('"msg":"running"', 30_000);
      const producing = simulateProcess(env, topic, { events: 6_000, rate: 600, seed: 4_343 });
      await sleep(2_500);
      pgCluster(cluster, 'stop');
      await sleep(8_000);
      pgCluster(cluster, 'start');
      const faultEnded = Date.now();
      const produced = await producing;
      await expectProducerFinished(db, produced, 6_000);
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 120_000, 200);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      await settle(
        topic,
        group,
        `PostgreSQL restarted (8 s down) under \`projector simulate\`: ${produced.retries} producer retries`,
        6_000,
        produced.report.duplicates ?? 0,
        faultEnded,
      );
    });
  }

  const stack = localBroker();
  if (stack) {
    it('Kafka broker restarted under load: producer and worker reconnect, nothing is lost', async () => {
      const topic = await createTopic(kafka, 'fault-broker', 3);
      const group = uniqueName('g');
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        // Anything stored whose publication the outage swallowed is the sweep's to heal.
        SWEEP_INTERVAL_MS: '2000',
        SWEEP_GRACE_MS: '2000',
      });
      await worker.waitForLog('"msg":"running"', 30_000);
      // The real producer: `projector simulate`, appending and publishing at 800 events/s.
      const producing = runProjector(
        ['simulate', '--events', '8000', '--rate', '800', '--tenants', '8', '--seed', '4242'],
        { ...env, KAFKA_TOPIC: topic },
      );
      let faultEnded = 0;
      let unpublished = 0;
      try {
        await sleep(2_500);
        execFileSync('bash', [stack, 'kafka-down'], { stdio: 'ignore' });
        // Down long enough that kafkajs's default consumer retries (5) would run out.
        await sleep(15_000);
        execFileSync('bash', [stack, 'kafka-up'], { stdio: 'ignore' });
        faultEnded = Date.now();
        // The producer rode through: kafkajs retried the sends until the broker was back; a batch
        // whose retries ran out first is stored and reported unpublished, and the run goes on.
        const produced = await producing;
        const report = JSON.parse(produced.stdout.trim().split('\n').pop() || '{}') as {
          appended?: number;
          unpublished?: number;
        };
        expect({ code: produced.code, appended: report.appended }).toEqual({ code: 0, appended: 8_000 });
        unpublished = report.unpublished ?? -1;
        const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bet_events');
        expect(rows[0]!.n).toBe(8_000);
        await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 120_000, 200);
        await waitFor('no bet behind', async () => (await betsBehind(db.pool)) === 0, 60_000, 500);
        expect(worker.child.exitCode).toBeNull();
      } catch (error) {
        throw new Error(`${(error as Error).message}; worker logs:\n${worker.logs().slice(-4_000)}`);
      } finally {
        worker.child.kill('SIGTERM');
      }
      const code = await worker.exited;
      expect({ code, logs: code === 0 ? '' : worker.logs().slice(-6_000) }).toEqual({ code: 0, logs: '' });
      await settle(
        topic,
        group,
        `Kafka broker restarted under load (${unpublished} events stored but unpublished, healed by the sweep)`,
        8_000,
        0,
        faultEnded,
      );
    });
  }

  it('rebalance 1 → 3 → 1 workers under load', async () => {
    const topic = await createTopic(kafka, 'fault-rebalance', 3);
    const group = uniqueName('g');
    const events = stream(5_000);
    const run = () => startProjector(['worker'], { ...env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group });
    const loading = load(topic, events, 2_000);
    const first = run();
    await first.waitForLog('"msg":"running"', 30_000);
    await sleep(700);
    const more: ProjectorProcess[] = [run(), run()];
    await Promise.all(more.map((w) => w.waitForLog('joined group', 30_000)));
    await sleep(700);
    for (const w of more) w.child.kill('SIGTERM');
    for (const w of more) expect(await w.exited).toBe(0);
    const faultEnded = Date.now();
    const { duplicates } = await loading;
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await settle(topic, group, 'rebalance 1→3→1', events.length, duplicates, faultEnded);
  });

  // Once per codec: uncompressed from kafkajs, and each compressed codec from the Java client, the
  // way Java services, Kafka Connect and Debezium write it (the broker keeps the producer's codec).
  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'hostile delivery (%s): duplicates, reordering, gaps and garbage from a raw client',
    async (codec) => {
      const topic = await createTopic(kafka, `fault-hostile-${codec}`, 3);
      const group = uniqueName('g');
      const events = stream(4_000);
      const store = createEventStore({
        pool: db.workerPool,
        publisher: noPublisher,
        inline: inlineProjection,
      });
      for (let i = 0; i < events.length; i += 200) await store.append(events.slice(i, i + 200));
      const random = seededRandom(7);
      const byBet = new Map<string, BetEvent[]>();
      for (const e of events)
        byBet.set(`${e.tenantId}:${e.aggregateId}`, [
          ...(byBet.get(`${e.tenantId}:${e.aggregateId}`) ?? []),
          e,
        ]);
      const messages: Array<{ key: string | null; value: string | null }> = [];
      let duplicates = 0;
      for (const [key, bet] of byBet) {
        // Reorder within the bet, skip ahead now and then (a gap), duplicate 10%.
        const delivered =
          random() < 0.3
            ? [...bet].reverse()
            : random() < 0.2 && bet.length > 2
              ? [bet[0]!, bet[2]!, bet[1]!]
              : bet;
        for (const e of delivered) {
          messages.push({ key, value: JSON.stringify(toEnvelopeJson(e)) });
          if (random() < 0.1) {
            messages.push({ key, value: JSON.stringify(toEnvelopeJson(e)) });
            duplicates++;
          }
        }
      }
      const sample = toEnvelopeJson(events[0]!);
      const garbage = [
        '{oops',
        'null',
        '[1,2]',
        JSON.stringify({ ...sample, event_type: 'V1_BET_TELEPORTED' }),
        JSON.stringify({ ...sample, tenant_id: undefined }),
        JSON.stringify({ ...sample, version: 'one' }),
        JSON.stringify({ ...sample, event_data: { ...sample.event_data, amount: '1e999' } }),
        JSON.stringify({ ...sample, event_data: { note: 'x'.repeat(950_000) } }),
      ];
      const mixed: Array<{ key: string | null; value: string | null }> = [];
      for (const [i, m] of messages.entries()) {
        mixed.push(m);
        if (i % 100 === 50) mixed.push({ key: 'garbage', value: garbage[((i / 100) % garbage.length) | 0]! });
      }
      if (codec === 'none') {
        for (let i = 0; i < mixed.length; i += 500) await produceRaw(kafka, topic, mixed.slice(i, i + 500));
      } else {
        await javaProduce(topic, codec, mixed);
      }
      const expectedGarbage = mixed.filter((m) => m.key === 'garbage').length;
      await settle(
        topic,
        group,
        `hostile delivery, ${codec === 'none' ? 'uncompressed from kafkajs' : `${codec} from the Java client`} (10% dup, reorder, gaps, 1% garbage)`,
        events.length,
        duplicates,
        Date.now(),
      );
      const { rows } = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM dead_letters WHERE topic = $1',
        [topic],
      );
      expect(rows[0]!.n).toBe(expectedGarbage);
    },
  );

  it('concurrent writers on the same bets: one wins each version, the loser gets a conflict', async () => {
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    const placed = stream(2_000)
      .filter((e) => e.version === 1)
      .slice(0, 50);
    await store.append(placed, { projection: 'immediate' });
    let conflicts = 0;
    const attempts = placed.flatMap((p) =>
      ['a', 'b', 'c'].map((writer) => ({
        ...p,
        version: 2,
        eventType: 'V1_BET_CANCELLED' as const,
        eventData: { reason: `by ${writer}` },
        idempotencyKey: `${p.idempotencyKey}-cancel-${writer}`,
      })),
    );
    await Promise.all(
      attempts.map(async (e) => {
        try {
          await store.append([e], { projection: 'immediate' });
        } catch (error) {
          expect(error).toBeInstanceOf(ConcurrencyConflictError);
          expect((error as Error).message).toContain(
            `bet ${e.aggregateId} of tenant ${e.tenantId} version 2`,
          );
          conflicts++;
        }
      }),
    );
    expect(conflicts).toBe(attempts.length - placed.length);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bet_events WHERE version = 2 AND idempotency_key LIKE '%-cancel-%'`,
    );
    expect(rows[0]!.n).toBe(placed.length);
    const mismatches = await viewMismatches(db.pool);
    table.push({
      scenario: 'concurrent writers (3 per version)',
      produced: attempts.length,
      projectedBets: placed.length,
      deadLettered: 0,
      duplicatesSkipped: 0,
      mismatches: mismatches.length,
      recoveryMs: 0,
    });
    expect(mismatches).toEqual([]);
  });
});
