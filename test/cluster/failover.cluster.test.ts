/**
 * Failures of a production-shaped Kafka: three brokers (scripts/kafka-cluster.sh: KRaft, replication
 * factor 3, min.insync.replicas 2), a real producer (`projector simulate`) and a real worker. Each
 * scenario ends with every stored event in the view as its fold (test/support/oracle.ts), nothing
 * lost, every process alive, the recovery time reported — and no error-level line from either
 * process: an ordinary failover is a warning (src/kafka/failovers.ts).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { isCaughtUp } from '../../consumers/lag.js';
import { betsBehind } from '../../projections/bets/verify.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { runProjector, startProjector } from '../support/processes.js';

const CLUSTER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/kafka-cluster.sh');
const cluster = (...args: string[]) => execFileSync('bash', [CLUSTER, ...args], { stdio: 'ignore' });

/** The lines a log holds at error level or above (pino: error, fatal). */
const errorLines = (text: string) =>
  text.split('\n').filter((l) => /"level":"(error|fatal)"/.test(l) || /^projector \w+: /.test(l));

const recovery: Array<{ scenario: string; seconds: number; unpublished: number; replaced: number }> = [];

/** Consumers the worker replaced as stuck (consumers/stallDetector.ts). */
const replacedConsumers = (logs: string) =>
  logs.split('\n').filter((l) => /the consumer is stuck|starting a new consumer/.test(l)).length;

describe('a 3-broker Kafka cluster losing brokers under load', () => {
  let kafka: Kafka;
  const databases: TestDatabase[] = [];
  beforeAll(() => {
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const db of databases) await db.drop();
    console.log(
      [
        '| scenario | caught up after the fault, s | stored but unpublished (the sweep re-folded their bets) | stuck consumers replaced |',
        '|---|---|---|---|',
      ]
        .concat(
          recovery.map(
            (r) => `| ${r.scenario} | ${r.seconds.toFixed(1)} | ${r.unpublished} | ${r.replaced} |`,
          ),
        )
        .join('\n'),
    );
  });

  /** Node id → partitions of `topic` it leads. */
  async function leaders(topic: string): Promise<Map<number, number>> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const counts = new Map<number, number>();
      for (const p of topics[0]!.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
      return counts;
    } finally {
      await admin.disconnect();
    }
  }

  /** Partition → its leader and replicas. */
  async function layout(topic: string): Promise<Map<number, { leader: number; replicas: number[] }>> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return new Map(
        topics[0]!.partitions.map((p) => [p.partitionId, { leader: p.leader, replicas: p.replicas }]),
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Moves the partitions' replicas as an operator's reassignment does, and waits until it is done. */
  async function reassign(topic: string, replicas: ReadonlyMap<number, number[]>): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.alterPartitionReassignments({
        topics: [
          {
            topic,
            partitionAssignment: [...replicas].map(([partition, nodes]) => ({ partition, replicas: nodes })),
          },
        ],
      });
      await waitFor(
        'the reassignment to finish',
        async () => (await admin.listPartitionReassignments({})).topics.every((t) => t.topic !== topic),
        60_000,
        250,
      );
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A worker and `projector simulate` run; `fault` breaks the cluster and mends it; then the
   * producer must have finished, the worker caught up, the view equal the fold, and neither process
   * have logged an error. `producer`: the appending process's environment on top of the defaults.
   * Returns the events the producer stored but did not publish.
   */
  async function underLoad(
    scenario: string,
    events: number,
    fault: (topic: string) => Promise<void>,
    producer: Record<string, string> = {},
  ): Promise<number> {
    // A database of its own: nothing a previous scenario's processes left running can write here.
    const db = await createTestDatabase();
    databases.push(db);
    const env = { DATABASE_URL: db.workerUrl, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS') };
    const topic = await createTopic(kafka, 'failover', 6);
    const worker = startProjector(['worker'], {
      ...env,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('g'),
      HTTP_PORT: '0',
      // What a publish that failed after COMMIT left behind, the sweep re-folds from the store.
      SWEEP_INTERVAL_MS: '2000',
      SWEEP_GRACE_MS: '2000',
      // A consumer stuck after a coordinator move (tulios/kafkajs#1152) is replaced within the wait.
      CONSUMER_STALL_TIMEOUT_MS: '15000',
    });
    let faultEnded = 0;
    let unpublished = 0;
    try {
      await worker.waitForLog('"msg":"running"', 60_000);
      const producing = runProjector(
        [
          'simulate',
          '--events',
          String(events),
          '--rate',
          '1000',
          '--tenants',
          '8',
          '--seed',
          String(events),
        ],
        { ...env, KAFKA_TOPIC: topic, LOG_LEVEL: 'warn', ...producer },
      );
      await sleep(3_000);
      await fault(topic);
      faultEnded = Date.now();
      const produced = await producing;
      const report = JSON.parse(produced.stdout.trim().split('\n').pop() || '{}') as {
        appended?: number;
        unpublished?: number;
      };
      expect({ code: produced.code, appended: report.appended, errors: errorLines(produced.stderr) }).toEqual(
        {
          code: 0,
          appended: events,
          errors: [],
        },
      );
      unpublished = report.unpublished ?? 0;
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 180_000, 250);
      await waitFor('no bet behind', async () => (await betsBehind(db.pool)) === 0, 120_000, 500);
      recovery.push({
        scenario,
        seconds: (Date.now() - faultEnded) / 1000,
        unpublished,
        replaced: replacedConsumers(worker.logs()),
      });
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bet_events');
      expect(rows[0]!.n).toBe(events);
      expect(await viewMismatches(db.pool)).toEqual([]);
      expect(worker.child.exitCode).toBeNull();
    } catch (error) {
      worker.child.kill('SIGTERM');
      await worker.exited;
      throw new Error(`${(error as Error).message}; worker logs:\n${worker.logs().slice(-30_000)}`);
    }
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(errorLines(worker.logs())).toEqual([]);
    return unpublished;
  }

  it('the broker leading most partitions SIGKILLed for 15 s and brought back: quiet, nothing lost', async () => {
    await underLoad('leader of most partitions killed for 15 s', 12_000, async (topic) => {
      const led = [...(await leaders(topic)).entries()].sort((a, b) => b[1] - a[1]);
      const node = String(led[0]![0]);
      cluster('kill', node);
      await sleep(15_000);
      cluster('start', node);
    });
  });

  it('every leader moved by a reassignment while the worker reads, then the replicas restored: quiet, nothing lost', async () => {
    let moved = -1;
    await underLoad('every leader moved by a reassignment, replicas restored', 12_000, async (topic) => {
      const before = await layout(topic);
      // Each partition loses its leader from its replicas: the controller elects another.
      await reassign(
        topic,
        new Map([...before].map(([p, m]) => [p, m.replicas.filter((node) => node !== m.leader)])),
      );
      await waitFor('the leaders to have moved', async () => {
        const now = await layout(topic);
        moved = [...now].filter(([p, m]) => m.leader !== before.get(p)!.leader).length;
        return moved === before.size;
      });
      // And gets it back as a follower, which copies the partition again while the worker reads.
      await reassign(
        topic,
        new Map(
          [...before].map(([p, m]) => [p, [...m.replicas.filter((node) => node !== m.leader), m.leader]]),
        ),
      );
    });
    expect(moved).toBe(6);
  });

  it('every broker killed in turn, 8 s each: quiet, nothing lost', async () => {
    await underLoad('rolling failure, each broker down 8 s', 15_000, async () => {
      for (const node of ['1', '2', '3']) {
        cluster('kill', node);
        await sleep(8_000);
        cluster('start', node);
        await sleep(2_000);
      }
    });
  });

  it('two brokers down at once for 15 s: appends stay stored and give up publishing at their deadline, the sweep projects them, nothing lost', async () => {
    const unpublished = await underLoad(
      'two brokers down for 15 s (below min ISR), publish deadline 3 s',
      12_000,
      async () => {
        cluster('kill', '1');
        cluster('kill', '2');
        await sleep(15_000);
        cluster('start', '1');
        cluster('start', '2');
      },
      // No broker acknowledges an acks=all send for the outage's 15 s: an append whose publish
      // is bounded in time gives up within it, where one bounded in attempts held on for minutes.
      { PUBLISH_DEADLINE_MS: '3000' },
    );
    expect(unpublished).toBeGreaterThan(0);
  });
});
