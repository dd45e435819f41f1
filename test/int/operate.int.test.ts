import type { Kafka } from 'kafkajs';
import { inlineProjection } from '../../projections/registry.js';
import { createKafkaPublisher } from '../../src/kafka/publisher.js';
import { METRIC } from '../../src/observability/metrics.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { isCaughtUp } from '../../consumers/lag.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/oracle.js';
import { startProjector } from '../support/processes.js';

/** The value of one sample in a Prometheus text exposition. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('operating a worker process: metrics, probes, logs, shutdown', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    kafka = testKafka();
    // The worker role's URL carries its password; the point is that it never reaches a log line.
    env = { DATABASE_URL: db.workerUrl, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'), HTTP_PORT: '0' };
  });
  afterAll(async () => db.drop());

  it('serves metrics that moved by the right amounts, and probes that answer as specified', async () => {
    const topic = await createTopic(kafka, 'operate', 2);
    const publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    const events = [...simulateEvents({ seed: 5, events: 1_000, tenants: 4, now: () => Date.now() })];
    for (let i = 0; i < events.length; i += 100) await store.append(events.slice(i, i + 100));
    await publisher.close();
    const garbage = kafka.producer();
    await garbage.connect();
    await garbage.send({
      topic,
      messages: [
        { key: 'x', value: 'not json' },
        { key: 'y', value: '{}' },
      ],
    });
    await garbage.disconnect();

    const worker = startProjector(['worker'], {
      ...env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('g'),
    });
    try {
      await worker.waitForLog('serving /metrics');
      const port = worker.logField('serving /metrics, /healthz, /readyz', 'port') as number;
      const base = `http://127.0.0.1:${port}`;
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 60_000);
      await waitFor('ready', async () => (await fetch(`${base}/readyz`)).status === 200, 30_000);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(sample(metrics, METRIC.events, '{result="consumed"}')).toBe(1_002);
      expect(sample(metrics, METRIC.events, '{result="projected"}')).toBe(1_000);
      expect(sample(metrics, METRIC.events, '{result="dead_lettered"}')).toBe(2);
      expect(sample(metrics, METRIC.events, '{result="stale"}')).toBe(0);
      expect(sample(metrics, `${METRIC.flushDuration}_count`)).toBeGreaterThanOrEqual(10);
      expect(sample(metrics, `${METRIC.batchSize}_sum`)).toBe(1_002);
      expect(sample(metrics, `${METRIC.eventToView}_count`)).toBe(1_000);
      expect(sample(metrics, METRIC.groupJoins)).toBeGreaterThanOrEqual(1);
      for (const partition of [0, 1]) {
        expect(sample(metrics, METRIC.consumerLag, `{topic="${topic}",partition="${partition}"}`)).toBe(0);
        expect(
          sample(metrics, METRIC.checkpointTimestamp, `{topic="${topic}",partition="${partition}"}`),
        ).toBeGreaterThan(1_700_000_000);
      }
      expect(metrics).toContain('process_resident_memory_bytes');
      expect(metrics).toContain(`# TYPE ${METRIC.errors} counter`);
      expect(metrics).toContain(`# TYPE ${METRIC.retries} counter`);

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, state: 'running' });
      expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({
        ok: true,
        database: true,
        group: true,
      });
      expect((await fetch(`${base}/nothing`)).status).toBe(404);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    const logs = worker.logs();
    // Structured JSON, the config logged once with the password masked, and no password anywhere.
    const lines = logs.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(lines.filter((l) => l.includes('"msg":"starting"'))).toHaveLength(1);
    expect(logs).toContain('***');
    expect(logs).not.toContain(requiredEnv('TEST_WORKER_PASSWORD'));
  });

  it('exits non-zero when the flush in flight outlasts the shutdown timeout', async () => {
    const topic = await createTopic(kafka, 'operate-timeout', 1);
    const publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    await store.append([...simulateEvents({ seed: 6, events: 50, tenants: 2, now: () => Date.now() })]);
    await publisher.close();
    const worker = startProjector(['worker'], {
      ...env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('g'),
      SHUTDOWN_TIMEOUT_MS: '500',
      PROJECTOR_FAULTS: 'slow-flush-ms=20000',
    });
    await worker.waitForLog('FAULT INJECTION ENABLED');
    await waitFor('the first flush to commit', async () => {
      const { rows } = await db.pool.query('SELECT 1 FROM projection_checkpoints WHERE topic = $1', [topic]);
      return rows.length > 0;
    });
    const started = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(worker.logs()).toContain('shutdown timed out');
  });

  it('a second signal exits at once, non-zero', async () => {
    const topic = await createTopic(kafka, 'operate-twice', 1);
    const publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    await store.append([...simulateEvents({ seed: 7, events: 50, tenants: 2, now: () => Date.now() })]);
    await publisher.close();
    const worker = startProjector(['worker'], {
      ...env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('g'),
      PROJECTOR_FAULTS: 'slow-flush-ms=20000',
    });
    await waitFor('the first flush to commit', async () => {
      const { rows } = await db.pool.query('SELECT 1 FROM projection_checkpoints WHERE topic = $1', [topic]);
      return rows.length > 0;
    });
    worker.child.kill('SIGTERM');
    await worker.waitForLog('shutting down');
    worker.child.kill('SIGINT');
    expect(await worker.exited).toBe(130);
  });
});
