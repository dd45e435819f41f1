/**
 * A kafkajs consumer that stops fetching while still heartbeating (what tulios/kafkajs#1152 left
 * behind in the failover suite) is made here on purpose: the test pauses the worker's consumer
 * behind its back. The worker must notice from the broker's log ends and the database checkpoint,
 * replace the consumer, and catch up — and must not replace a consumer that is merely idle.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { createKafkaPublisher, type EventPublisher } from '../../src/kafka/publisher.js';
import { createEventStore, type EventStore } from '../../src/store/eventStore.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { inlineProjection } from '../../projections/registry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { appendInBatches } from '../support/append.js';
import { startWorker, untilCaughtUp, workerConfig } from '../support/worker.js';
import { testSeed } from '../support/seed.js';

const STALL_MS = 5_000;

describe('a consumer stuck behind the worker’s back', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let publisher: EventPublisher;
  let store: EventStore;
  let seed = testSeed();
  const append = (events: number) =>
    appendInBatches(store, [
      ...simulateEvents({ seed: seed++, events, tenants: 4, openBets: 40, now: () => Date.now() }),
    ]);
  beforeAll(async () => {
    db = await createTestDatabase();
    kafka = testKafka();
  });
  afterAll(async () => {
    await publisher?.close();
    await db.drop();
  });

  it('is replaced once its partitions hold messages it does not fetch, and the view catches up', async () => {
    const topic = await createTopic(kafka, 'stall', 3);
    publisher = createKafkaPublisher(kafka, topic);
    store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    const config = workerConfig(topic, uniqueName('g'), { consumerStallTimeoutMs: STALL_MS });
    const consumers: Consumer[] = [];
    let paused = false;
    const running = startWorker(db.workerPool, kafka, config, {
      consumerRunning: (consumer) => consumers.push(consumer),
      afterDbCommit: () => {
        // The first consumer stops fetching after its first flush; it still heartbeats.
        if (!paused && consumers.length === 1) {
          paused = true;
          consumers[0]!.pause([{ topic }]);
        }
      },
    });
    const restarts = async () =>
      (await running.metrics.consumerRestarts.get()).values.find((v) => v.labels.reason === 'stalled')
        ?.value ?? 0;
    try {
      await append(300);
      await waitFor('the first consumer to be paused', () => paused, 30_000);
      await append(600);
      await untilCaughtUp(db.pool, kafka, config, running);
      expect(consumers).toHaveLength(2);
      expect(await restarts()).toBe(1);
      expect(running.worker.state).toBe('running');
      expect(await viewMismatches(db.pool)).toEqual([]);

      // Caught up and idle for twice the stall timeout: nothing is behind, so nothing is replaced.
      await new Promise((resolve) => setTimeout(resolve, 2 * STALL_MS + 2_000));
      expect(consumers).toHaveLength(2);
      expect(await restarts()).toBe(1);
      await append(100);
      await untilCaughtUp(db.pool, kafka, config, running);
      expect(await viewMismatches(db.pool)).toEqual([]);
    } finally {
      await running.stop();
    }
    expect(running.worker.state).toBe('stopped');
  });
});
