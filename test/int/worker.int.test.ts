import type { Kafka } from 'kafkajs';
import { noPublisher, createKafkaPublisher, type EventPublisher } from '../../src/kafka/publisher.js';
import { createEventStore, type EventStore } from '../../src/store/eventStore.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { toEnvelopeJson, type BetEvent } from '../../src/events/types.js';
import { inlineProjection } from '../../projections/registry.js';
import { betsBehind } from '../../projections/bets/verify.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTopic, produceRaw, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { appendInBatches } from '../support/append.js';
import { startWorker, untilCaughtUp, workerConfig } from '../support/worker.js';
import { testSeed } from '../support/seed.js';

const stream = (events: number): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants: 5, openBets: 50, now: () => Date.now() }),
];

async function snapshot(db: TestDatabase): Promise<Map<string, string>> {
  const { rows } = await db.pool.query<{ key: string; row: string }>(
    `SELECT tenant_id || ':' || bet_id AS key, row_to_json(v)::text AS row FROM bets_view v`,
  );
  return new Map(rows.map((r) => [r.key, r.row]));
}

describe('projection worker on real Kafka and PostgreSQL', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  const publishers: EventPublisher[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const p of publishers) await p.close();
    await db.drop();
  });

  async function publishingStore(topic: string): Promise<EventStore> {
    const publisher = createKafkaPublisher(kafka, topic);
    publishers.push(publisher);
    return createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
  }

  it('a rebalance takes partitions away together with their lag and checkpoint gauges', async () => {
    const topic = await createTopic(kafka, 'worker-gauges', 4);
    const config = workerConfig(topic, uniqueName('g'));
    const store = await publishingStore(topic);
    await appendInBatches(store, stream(800));
    const gaugedPartitions = async (running: ReturnType<typeof startWorker>) =>
      new Set((await running.metrics.consumerLag.get()).values.map((v) => Number(v.labels.partition)));
    const a = startWorker(db.workerPool, kafka, config);
    try {
      // Alone, A owns (and gauges) every partition once it has read from each.
      await untilCaughtUp(db.pool, kafka, config, a);
      expect(await gaugedPartitions(a)).toEqual(new Set([0, 1, 2, 3]));
      // A second member joins; both read new events: no partition is gauged by both.
      const c = startWorker(db.workerPool, kafka, config);
      try {
        await waitFor('both members to own partitions', async () => {
          await appendInBatches(store, stream(200));
          await untilCaughtUp(db.pool, kafka, config, a);
          return (await gaugedPartitions(c)).size > 0 && (await gaugedPartitions(a)).size < 4;
        });
        const mine = await gaugedPartitions(a);
        const theirs = await gaugedPartitions(c);
        expect([...mine].filter((p) => theirs.has(p))).toEqual([]);
      } finally {
        await c.stop();
      }
    } finally {
      await a.stop();
    }
  });

  it('after a rebalance takes partitions away, the ones left spread over the flush lanes again', async () => {
    const topic = await createTopic(kafka, 'worker-lane-spread', 4);
    const config = workerConfig(topic, uniqueName('g'), { flushLanes: 2 });
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    // Each bet's events in the partition chosen here, bets dealt to the four in turn.
    const partitionOf = new Map<string, number>();
    const dealt = (e: BetEvent) => {
      const key = `${e.tenantId}:${e.aggregateId}`;
      if (!partitionOf.has(key)) partitionOf.set(key, partitionOf.size % 4);
      return partitionOf.get(key)!;
    };
    const send = (events: readonly BetEvent[], partitions: readonly number[]) =>
      produceRaw(
        kafka,
        topic,
        events
          .filter((e) => partitions.includes(dealt(e)))
          .map((e) => ({
            key: `${e.tenantId}:${e.aggregateId}`,
            value: JSON.stringify(toEnvelopeJson(e)),
            partition: dealt(e),
          })),
      );
    const lanesOf = async (running: ReturnType<typeof startWorker>) =>
      new Map(
        (await running.metrics.partitionLane.get()).values.map((v) => [Number(v.labels.partition), v.value]),
      );
    const ownedBy = async (running: ReturnType<typeof startWorker>) =>
      new Set((await running.metrics.consumerLag.get()).values.map((v) => Number(v.labels.partition)));
    const first = stream(1_200);
    await appendInBatches(store, first);
    const a = startWorker(db.workerPool, kafka, config);
    try {
      // The partitions reach A one at a time, each taking the lane with the fewest: 0, 1, 0, 1.
      for (const partition of [0, 1, 2, 3]) {
        await send(first, [partition]);
        await untilCaughtUp(db.pool, kafka, config, a);
      }
      expect(await lanesOf(a)).toEqual(
        new Map([
          [0, 0],
          [1, 1],
          [2, 0],
          [3, 1],
        ]),
      );
      // A second member joins. The group deals the partitions round robin, so A keeps two that
      // share a lane (0 and 2, or 1 and 3): one of them must move for both lanes to work.
      const c = startWorker(db.workerPool, kafka, config);
      try {
        let round = 0;
        const oneRound = async () => {
          const more = [
            ...simulateEvents({ seed: testSeed() + 100 + round++, events: 200, tenants: 5, openBets: 20 }),
          ];
          await appendInBatches(store, more);
          await send(more, [0, 1, 2, 3]);
          await untilCaughtUp(db.pool, kafka, config, a);
        };
        await waitFor('both members to own partitions', async () => {
          await oneRound();
          const [mine, theirs] = [await ownedBy(a), await ownedBy(c)];
          return mine.size === 2 && theirs.size === 2 && [...mine].every((p) => !theirs.has(p));
        });
        // A partition moves when its next batch arrives with nothing of it in flight; the round that
        // saw the rebalance may have found the partitions taken away still flushing.
        await oneRound();
        for (const member of [a, c]) {
          const lanes = await lanesOf(member);
          // Only the partitions the member owns hold a lane, one in each.
          expect(new Set(lanes.keys())).toEqual(await ownedBy(member));
          expect(new Set(lanes.values())).toEqual(new Set([0, 1]));
        }
      } finally {
        await c.stop();
      }
    } finally {
      await a.stop();
    }
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('projects a stream so that every row equals the ordered fold, and checkpoints per partition', async () => {
    const topic = await createTopic(kafka, 'worker-e2e', 3);
    const config = workerConfig(topic, uniqueName('g'));
    await appendInBatches(await publishingStore(topic), stream(3_000));
    const running = startWorker(db.workerPool, kafka, config);
    await untilCaughtUp(db.pool, kafka, config, running);
    await running.stop();
    expect(running.worker.state).toBe('stopped');
    expect(await viewMismatches(db.pool)).toEqual([]);
    expect(await betsBehind(db.pool)).toBe(0);
    // Kafka's committed offsets follow the DB checkpoints once the flushes have committed.
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: config.groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    for (const end of ends) {
      expect(committed!.partitions.find((p) => p.partition === end.partition)?.offset).toBe(end.high);
    }
    expect(running.worker.stats.flushes).toBeGreaterThan(3_000 / 100 - 1);

    // A second group replaying the whole topic with no checkpoints changes no row (version guard).
    await db.pool.query('DELETE FROM projection_checkpoints');
    const before = await snapshot(db);
    const replay = startWorker(db.workerPool, kafka, workerConfig(topic, uniqueName('replay')));
    await untilCaughtUp(db.pool, kafka, config, replay);
    await replay.stop();
    expect(replay.worker.stats.staleEvents).toBe(3_000);
    expect(replay.worker.stats.projectedRows).toBe(0);
    expect(await snapshot(db)).toEqual(before);
  });

  it('with fewer lanes than partitions, a flush carries several partitions and a checkpoint for each', async () => {
    const topic = await createTopic(kafka, 'worker-lanes', 6);
    const config = workerConfig(topic, uniqueName('g'), { flushLanes: 2 });
    await appendInBatches(await publishingStore(topic), stream(3_000));
    // What each committed flush said it checkpointed, beside what the database holds.
    const flushed: Array<{ partitions: number[]; stored: number[] }> = [];
    const running = startWorker(db.workerPool, kafka, config, {
      afterDbCommit: (result) => {
        flushed.push({
          partitions: result.progress.map((p) => p.partition),
          stored: [...result.checkpoints].filter(([, r]) => r === 'stored').map(([p]) => p),
        });
      },
    });
    await untilCaughtUp(db.pool, kafka, config, running);
    await running.stop();
    expect(await viewMismatches(db.pool)).toEqual([]);
    const { rows } = await db.pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM projection_checkpoints WHERE topic = $1 ORDER BY partition',
      [topic],
    );
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    // Every partition checkpointed at its end, though six shared two lanes.
    expect(rows.map((r) => [r.partition, String(r.next_offset)])).toEqual(
      ends.map((e) => [e.partition, e.high]).sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    // Some flush carried more than one partition, and stored a checkpoint for each it carried.
    const shared = flushed.filter((f) => f.partitions.length > 1);
    expect(shared.length).toBeGreaterThan(0);
    for (const f of shared) expect(f.stored.sort()).toEqual([...f.partitions].sort());
    // Six partitions in two lanes, three each: a partition only ever shares a flush with its lane's.
    const together = new Map<number, Set<number>>();
    for (const f of flushed)
      for (const p of f.partitions) {
        const seen = together.get(p) ?? new Set<number>();
        for (const q of f.partitions) seen.add(q);
        together.set(p, seen);
      }
    for (const seen of together.values()) expect(seen.size).toBeLessThanOrEqual(3);
  });

  it('a crash between the DB commit and the offset commit replays as a no-op after restart', async () => {
    const topic = await createTopic(kafka, 'worker-crash', 3);
    const config = workerConfig(topic, uniqueName('g'), { partitionsConsumedConcurrently: 1 });
    await appendInBatches(await publishingStore(topic), stream(1_500));
    let flushes = 0;
    const crashing = startWorker(db.workerPool, kafka, config, {
      afterDbCommit: () => {
        if (++flushes === 4) throw new Error('injected crash after the DB commit');
      },
    });
    await expect(crashing.done).rejects.toThrow('injected crash after the DB commit');
    expect(crashing.worker.state).toBe('failed');
    const afterCrash = await snapshot(db);
    expect(afterCrash.size).toBeGreaterThan(0);

    const restarted = startWorker(db.workerPool, kafka, config);
    await untilCaughtUp(db.pool, kafka, config, restarted);
    await restarted.stop();
    // The crashed flush's messages came back from Kafka and were recognised below the checkpoint.
    expect(restarted.worker.stats.skippedBelowCheckpoint).toBeGreaterThan(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
    // Rows committed before the crash that no later event touched were not rewritten.
    const now = await snapshot(db);
    const untouched = [...afterCrash].filter(([key, row]) => now.get(key) === row);
    expect(untouched.length).toBeGreaterThan(0);
  });

  it('dead-letters undecodable messages with position and reason, without stalling the partition', async () => {
    const topic = await createTopic(kafka, 'worker-dlq', 1);
    const config = workerConfig(topic, uniqueName('g'));
    const events = stream(200);
    await appendInBatches(
      createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection }),
      events,
    );
    const good = events.map((e) => ({
      key: `${e.tenantId}:${e.aggregateId}`,
      value: JSON.stringify(toEnvelopeJson(e)),
    }));
    const placed = toEnvelopeJson(events[0]!);
    const garbage: Array<{ key: string | null; value: string | null }> = [
      { key: 'x', value: '{not json' },
      { key: 'x', value: 'null' },
      { key: 'x', value: '[1,2,3]' },
      { key: 'x', value: null },
      { key: 'x', value: JSON.stringify({ ...placed, event_type: 'V9_BET_EXPLODED' }) },
      { key: 'x', value: JSON.stringify({ ...placed, tenant_id: undefined }) },
      { key: 'x', value: JSON.stringify({ ...placed, version: '1' }) },
      {
        key: 'x',
        value: JSON.stringify({ ...placed, event_data: { ...placed.event_data, amount: '1e999' } }),
      },
      { key: 'x', value: JSON.stringify({ ...placed, event_data: { selection: 'y'.repeat(900_000) } }) },
    ];
    const messages = [...good.slice(0, 100), ...garbage, ...good.slice(100)];
    await produceRaw(kafka, topic, messages);
    const running = startWorker(db.workerPool, kafka, config);
    await untilCaughtUp(db.pool, kafka, config, running);
    await running.stop();

    const { rows } = await db.pool.query<{
      kafka_offset: number;
      reason: string;
      payload: Buffer | null;
      partition: number;
    }>(
      'SELECT kafka_offset, reason, payload, partition FROM dead_letters WHERE topic = $1 ORDER BY kafka_offset',
      [topic],
    );
    expect(rows.map((r) => r.kafka_offset)).toEqual(garbage.map((_, i) => 100 + i));
    expect(rows.map((r) => r.reason)).toEqual([
      expect.stringContaining('is not JSON'),
      'event null must be a JSON object',
      'event [1,2,3] must be a JSON object',
      'message null has no value',
      expect.stringContaining('event_type "V9_BET_EXPLODED" is not one of'),
      'tenant_id (missing) must be a whole number',
      'version "1" must be a whole number',
      'event_data.amount "1e999" is not a decimal',
      expect.stringContaining('event_data.amount (missing) is not a decimal'),
    ]);
    expect(rows[0]!.payload!.toString()).toBe('{not json');
    expect(rows.every((r) => r.partition === 0)).toBe(true);
    const counted = (await running.metrics.events.get()).values.find(
      (v) => v.labels.result === 'dead_lettered',
    );
    expect(counted?.value).toBe(garbage.length);
    expect(await viewMismatches(db.pool)).toEqual([]);

    // A second delivery of the same bad messages is the same dead letters, not new ones.
    const replay = startWorker(db.workerPool, kafka, workerConfig(topic, uniqueName('replay')));
    await db.pool.query('DELETE FROM projection_checkpoints WHERE topic = $1', [topic]);
    await untilCaughtUp(db.pool, kafka, config, replay);
    await replay.stop();
    const { rows: after } = await db.pool.query('SELECT 1 FROM dead_letters WHERE topic = $1', [topic]);
    expect(after).toHaveLength(garbage.length);
  });

  it('heals a version gap in delivery by re-folding the bet from the event store', async () => {
    const topic = await createTopic(kafka, 'worker-gap', 1);
    const config = workerConfig(topic, uniqueName('g'));
    const events = stream(400);
    await appendInBatches(
      createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection }),
      events,
    );
    // The bet with the most events: a gap needs at least one version between the first and the last.
    const byBet = new Map<string, BetEvent[]>();
    for (const e of events) {
      const key = `${e.tenantId}:${e.aggregateId}`;
      byBet.set(key, [...(byBet.get(key) ?? []), e]);
    }
    const bet = [...byBet.values()].reduce((a, b) => (b.length > a.length ? b : a));
    expect(bet.length).toBeGreaterThanOrEqual(3);
    const msg = (e: BetEvent) => ({
      key: `${e.tenantId}:${e.aggregateId}`,
      value: JSON.stringify(toEnvelopeJson(e)),
    });
    // Version 1, then the last version: everything in between never arrives.
    await produceRaw(kafka, topic, [msg(bet[0]!)]);
    const first = startWorker(db.workerPool, kafka, config);
    await untilCaughtUp(db.pool, kafka, config, first);
    await first.stop();
    await produceRaw(kafka, topic, [msg(bet[bet.length - 1]!)]);
    const second = startWorker(db.workerPool, kafka, config);
    await untilCaughtUp(db.pool, kafka, config, second);
    await second.stop();
    expect(second.worker.stats.refoldedBets).toBe(1);
    const problems = await viewMismatches(db.pool);
    expect(problems.filter((p) => p.startsWith(`${bet[0]!.tenantId}:${bet[0]!.aggregateId}:`))).toEqual([]);
  });
});
