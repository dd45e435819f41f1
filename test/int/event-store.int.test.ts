import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { jest } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import {
  CLOSE_DRAIN_MS,
  createKafkaPublisher,
  noPublisher,
  type EventPublisher,
} from '../../src/kafka/publisher.js';
import {
  ConcurrencyConflictError,
  createEventStore,
  PublishError,
  type EventStore,
} from '../../src/store/eventStore.js';
import type { BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { inlineProjection } from '../../projections/registry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTopic, logEndOffsets, readAll, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches } from '../support/oracle.js';
import { testSeed } from '../support/seed.js';

const T0 = 1_790_000_000_000;
const stream = (events: number, tenants = 3): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants, openBets: 20, now: () => T0 }),
];

describe(`event store on real ${process.env['TEST_PLATFORM'] === 'citus' ? 'Citus' : 'PostgreSQL'}`, () => {
  let db: TestDatabase;
  let store: EventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
  });
  afterAll(async () => db.drop());

  it('appends a whole batch with one INSERT statement and reads a bet back in version order', async () => {
    const events = stream(300);
    const query = jest.spyOn(pg.Client.prototype, 'query');
    try {
      const result = await store.append(events);
      expect(result.appended).toHaveLength(300);
      const inserts = query.mock.calls.filter((c) => JSON.stringify(c[0]).includes('INSERT INTO bet_events'));
      expect(inserts).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    const first = events[0]!;
    const read = await store.readBet(first.tenantId, first.aggregateId);
    expect(read.map((e) => e.version)).toEqual(read.map((_, i) => i + 1));
    expect(read).toEqual(events.filter((e) => e.aggregateId === first.aggregateId));
  });

  it('reports duplicates by (tenant_id, idempotency_key) and stores nothing twice', async () => {
    const events = stream(50);
    await store.append(events.slice(0, 20));
    const result = await store.append(events);
    expect(result.duplicates).toHaveLength(20);
    expect(result.appended).toHaveLength(30);
    const again = await store.append([...events, events[0]!]);
    expect(again.appended).toEqual([]);
    expect(again.duplicates).toHaveLength(51);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM bet_events WHERE idempotency_key = ANY($1)',
      [events.map((e) => e.idempotencyKey)],
    );
    expect(rows[0]!.n).toBe(50);
  });

  it('gives a racing writer a conflict naming the bet and version, and keeps none of its batch', async () => {
    const [placed, next] = stream(200).filter((e, _, all) => e.aggregateId === all[0]!.aggregateId);
    await store.append([placed!]);
    const winner = { ...next!, idempotencyKey: `${next!.idempotencyKey}-winner` };
    const loser = { ...next!, idempotencyKey: `${next!.idempotencyKey}-loser` };
    const bystander = stream(5);
    const results = await Promise.allSettled([store.append([winner]), store.append([...bystander, loser])]);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const error = (rejected[0] as PromiseRejectedResult).reason as ConcurrencyConflictError;
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error.message).toContain(`bet ${placed!.aggregateId} of tenant ${placed!.tenantId} version 2`);
    const stored = await store.readBet(placed!.tenantId, placed!.aggregateId);
    expect(stored.map((e) => e.idempotencyKey)).toEqual([
      placed!.idempotencyKey,
      expect.stringMatching(/-winner$/),
    ]);
    const { rows } = await db.pool.query('SELECT 1 FROM bet_events WHERE idempotency_key = $1', [
      bystander[0]!.idempotencyKey,
    ]);
    expect(rows).toEqual([]);
  });

  it('refuses a version gap, in the batch or against the store', async () => {
    const bet = stream(400).filter((e, _, all) => e.aggregateId === all[0]!.aggregateId);
    expect(bet.length).toBeGreaterThanOrEqual(3);
    await expect(store.append([bet[0]!, bet[2]!])).rejects.toThrow(/version 2 is missing from the batch/);
    await expect(store.append([bet[1]!])).rejects.toThrow(
      /version 2 cannot be appended: version 1 is not stored/,
    );
    await store.append([bet[0]!]);
    await expect(store.append([bet[2]!])).rejects.toThrow(ConcurrencyConflictError);
  });

  it('the store itself refuses a hole: a missing predecessor fails the foreign key, a wrong previous_version the check', async () => {
    const insert = (version: number, previous: number | null) =>
      db.workerPool.query(
        `INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data, "timestamp",
                                 previous_version)
         VALUES (77, 'bet-hole', $1, $2, $3, $4, $5, $6)`,
        [
          version,
          `bet-hole-v${version}`,
          version === 1 ? 'V1_BET_PLACED' : 'V1_BET_ACCEPTED',
          version === 1
            ? { user_id: 'u-1', amount: '1.00', odds: '2.00', selection: 'home', currency: 'EUR' }
            : {},
          T0,
          previous,
        ],
      );
    await expect(insert(2, 1)).rejects.toMatchObject({ code: '23503' });
    await expect(insert(1, 0)).rejects.toMatchObject({ code: '23514' });
    await insert(1, null);
    await expect(insert(2, null)).rejects.toMatchObject({ code: '23514' });
    await insert(2, 1);
    await expect(insert(4, 3)).rejects.toMatchObject({ code: '23503' });
  });

  it('in immediate mode writes the view rows in the append transaction', async () => {
    const events = stream(500, 4);
    for (let i = 0; i < events.length; i += 100)
      await store.append(events.slice(i, i + 100), { projection: 'immediate' });
    // Earlier tests appended without immediate mode; only this test's bets must have rows.
    const ours = new Set(events.map((e) => `${e.tenantId}:${e.aggregateId}`));
    const problems = (await viewMismatches(db.pool)).filter((p) => ours.has(p.split(': ')[0]!));
    expect(problems).toEqual([]);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bets_view');
    expect(rows[0]!.n).toBe(ours.size);
  });
});

describe('event store publishing to real Kafka', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let publisher: EventPublisher;
  beforeAll(async () => {
    db = await createTestDatabase();
    kafka = testKafka();
  });
  afterEach(async () => publisher?.close());
  afterAll(async () => db.drop());

  it('publishes appended events after commit, keyed tenant_id:bet_id, in version order per bet', async () => {
    const topic = await createTopic(kafka, 'store-publish', 3);
    publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    const events = stream(120);
    await store.append(events.slice(0, 60));
    const messages = await readAll(kafka, topic, 60);
    expect(messages).toHaveLength(60);
    const byKey = new Map<string, number[]>();
    for (const m of messages) {
      const value = JSON.parse(m.value!) as { tenant_id: number; aggregate_id: string; version: number };
      expect(m.key).toBe(`${value.tenant_id}:${value.aggregate_id}`);
      byKey.set(m.key!, [...(byKey.get(m.key!) ?? []), value.version]);
    }
    // Every event of a bet is in one partition, in version order.
    for (const versions of byKey.values()) expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(messages.map((m) => m.value)).size).toBe(60);
  });

  it('concurrent publishes share Kafka requests, and each caller hears when its own events are in the log', async () => {
    const topic = await createTopic(kafka, 'store-shared-requests', 3);
    // The real producer, with each request it is asked to send counted on the way.
    const requests: number[] = [];
    const counted = Object.create(kafka) as Kafka;
    counted.producer = (config) => {
      const producer = kafka.producer(config);
      const send = producer.send.bind(producer);
      producer.send = (record) => {
        requests.push(record.messages.length);
        return send(record);
      };
      return producer;
    };
    publisher = createKafkaPublisher(counted, topic);
    const events = stream(200)
      .filter((e) => e.version === 1)
      .slice(0, 64);
    await Promise.all(events.map((e) => publisher.publish([e])));
    // Every event in exactly one request, and far fewer requests than publishes.
    expect(requests.reduce((a, b) => a + b, 0)).toBe(64);
    expect(requests.length).toBeLessThan(16);
    const messages = await readAll(kafka, topic, 64);
    expect(new Set(messages.map((m) => m.key))).toEqual(
      new Set(events.map((e) => `${e.tenantId}:${e.aggregateId}`)),
    );
  });

  it('a publish the broker refuses for its own records fails alone: the others it shared a request with are sent', async () => {
    // A topic that takes record batches of at most 4 KB.
    const topic = uniqueName('store-refused-records');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    publisher = createKafkaPublisher(kafka, topic);
    const small = stream(200)
      .filter((e) => e.version === 1)
      .slice(0, 10);
    // Incompressible: the topic's limit applies to the compressed batch.
    const noise = randomBytes(12_000).toString('base64');
    const huge = {
      ...small[0]!,
      aggregateId: 'huge',
      eventData: { ...(small[0]!.eventData as Record<string, unknown>), user_id: noise },
    } as BetEvent;
    // All at once: the first goes alone, the rest share the next request, the huge one among them.
    const settled = await Promise.allSettled([...small, huge].map((e) => publisher.publish([e])));
    expect(settled.slice(0, 10).map((s) => s.status)).toEqual(Array<string>(10).fill('fulfilled'));
    expect(settled[10]!.status).toBe('rejected');
    expect(String((settled[10] as PromiseRejectedResult).reason)).toMatch(
      /too large|MESSAGE_TOO_LARGE|larger/i,
    );
    // The broker's own count first (no consumer group): every fulfilled publish is in the log, once.
    expect(await logEndOffsets(kafka, topic)).toEqual({ 0: 10 });
    const messages = await readAll(kafka, topic, 10);
    expect(messages.map((m) => m.key).sort()).toEqual(
      small.map((e) => `${e.tenantId}:${e.aggregateId}`).sort(),
    );
  });

  it('a retried append publishes its duplicates again, as the store holds them (its first answer may have been lost)', async () => {
    const topic = await createTopic(kafka, 'store-republish', 3);
    publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    const events = stream(40)
      .filter((e) => e.version === 1)
      .slice(0, 10);
    await store.append(events);
    // The same idempotency keys again, one with other content: it is a duplicate, and what goes
    // out is the stored event, not the caller's copy.
    const retried = events.map((e, i) => (i === 0 ? { ...e, timestamp: e.timestamp + 1 } : e));
    const result = await store.append(retried);
    expect(result.appended).toEqual([]);
    expect(result.duplicates).toHaveLength(10);
    const messages = await readAll(kafka, topic, 20);
    expect(messages).toHaveLength(20);
    const first = messages.filter((m) => m.key === `${events[0]!.tenantId}:${events[0]!.aggregateId}`);
    expect(first).toHaveLength(2);
    // The same event (jsonb may order event_data's keys differently), with the stored timestamp.
    expect(JSON.parse(first[1]!.value!)).toEqual(JSON.parse(first[0]!.value!));
    expect((JSON.parse(first[1]!.value!) as { timestamp: number }).timestamp).toBe(events[0]!.timestamp);
  });

  it('an append whose publish no broker answers gives up at its deadline, the events stored; closing the publisher does not wait out the abandoned send', async () => {
    // A broker that takes connections and never answers, as one holding an acks=all send while
    // its in-sync replicas are being dropped: each kafkajs request waits its 30 s timeout.
    const sockets = new Set<Socket>();
    const hung = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const gone = new Kafka({
      clientId: 'bet-projector-test-hung',
      brokers: [`127.0.0.1:${(hung.address() as AddressInfo).port}`],
      logLevel: logLevel.NOTHING,
    });
    const unanswered = createKafkaPublisher(gone, uniqueName('store-deadline'));
    const store = createEventStore({
      pool: db.workerPool,
      publisher: unanswered,
      // Attempts enough for minutes of retrying: only the deadline can end this append soon.
      retry: { policy: { initialMs: 100, maxMs: 500, maxAttempts: 1_000 }, publishDeadlineMs: 2_000 },
    });
    const events = stream(30)
      .filter((e) => e.version === 1)
      .slice(0, 5)
      .map((e) => ({ ...e, tenantId: e.tenantId + 900 }));
    const started = Date.now();
    const error = await store.append(events).then(
      () => undefined,
      (e: unknown) => e,
    );
    const gaveUp = Date.now() - started;
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).result.appended).toHaveLength(5);
    expect((error as Error).message).toContain('5 events were stored but not published to Kafka');
    expect((error as Error).message).toContain('PUBLISH_DEADLINE_MS=2000');
    expect(gaveUp).toBeGreaterThanOrEqual(2_000);
    expect(gaveUp).toBeLessThan(2_000 + 3_000);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM bet_events WHERE tenant_id = ANY($1::bigint[]) AND idempotency_key = ANY($2::text[])',
      [events.map((e) => e.tenantId), events.map((e) => e.idempotencyKey)],
    );
    expect(rows[0]!.n).toBe(5);
    try {
      const closing = Date.now();
      await unanswered.close();
      expect(Date.now() - closing).toBeLessThan(CLOSE_DRAIN_MS + 3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      hung.close();
    }
  });
  it('a publish given up at its deadline is told when it ends: its late error, or its late success', async () => {
    // The publisher stands for a send still in flight at the deadline (the store's seam): it
    // answers 1.5 s after it is called, with this outcome.
    const outcomes: Array<Error | undefined> = [new Error('broker said NOT_ENOUGH_REPLICAS'), undefined];
    for (const outcome of outcomes) {
      const told: Array<{ step: string; error: unknown }> = [];
      let answered: (() => void) | undefined;
      const late = new Promise<void>((resolve) => (answered = resolve));
      const slow = {
        publish: async () => {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          answered?.();
          if (outcome) throw Object.assign(outcome, { retriable: false });
        },
        close: async () => undefined,
      };
      const store = createEventStore({
        pool: db.workerPool,
        publisher: slow,
        retry: {
          policy: { initialMs: 100, maxMs: 500, maxAttempts: 3 },
          publishDeadlineMs: 300,
          onAbandoned: (step, error) => told.push({ step, error }),
        },
      });
      const events = stream(30)
        .filter((e) => e.version === 1)
        .slice(0, 3)
        .map((e) => ({ ...e, tenantId: e.tenantId + (outcome ? 910 : 920) }));
      const error = await store.append(events).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PublishError);
      expect((error as Error).message).toContain('PUBLISH_DEADLINE_MS=300');
      // Nothing told before the send ends, then exactly its outcome.
      expect(told).toEqual([]);
      await late;
      await new Promise((resolve) => setImmediate(resolve));
      expect(told).toEqual([{ step: 'publish', error: outcome }]);
    }
  });
});
