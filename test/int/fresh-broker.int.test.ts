/**
 * A worker's first start against a broker that never ran a group: the group coordinator loads its
 * offsets topic while the worker joins, and kafkajs answers that with a crash and a restart. That
 * is the broker's ordinary wait, not an operator's problem: the worker logs no error-level line
 * from start to a clean stop. The broker is the project's own (scripts/stack.sh), on ports of its
 * own with a fresh log, so the default stack is not disturbed.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { isCaughtUp } from '../../consumers/lag.js';
import { inlineProjection } from '../../projections/registry.js';
import { freePort } from '../../src/freePort.js';
import { createKafkaPublisher } from '../../src/kafka/publisher.js';
import { ensureTopic } from '../../src/kafka/topics.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { startProjector } from '../support/processes.js';
import { workerEnv } from '../support/scenarios.js';

const STACK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/stack.sh');

describe('a worker against a fresh broker', () => {
  let ports: Record<string, string>;
  let brokers: string;
  let db: TestDatabase;
  const stack = (command: string) =>
    execFileSync('bash', [STACK, command], {
      env: { ...process.env, ...ports },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const runFolder = () =>
    path.join(
      process.env['BET_PROJECTOR_CACHE'] ?? path.join(homedir(), '.cache', 'bet-projector'),
      `run-${ports['KAFKA_PORT']}`,
    );

  beforeAll(async () => {
    ports = {
      KAFKA_PORT: String(await freePort()),
      KAFKA_CONTROLLER_PORT: String(await freePort()),
      KAFKA_SASL_SSL_PORT: String(await freePort()),
    };
    brokers = `127.0.0.1:${ports['KAFKA_PORT']}`;
    rmSync(runFolder(), { recursive: true, force: true });
    stack('kafka-up');
    db = await createTestDatabase();
  }, 5 * 60_000);

  afterAll(async () => {
    await db?.drop();
    stack('kafka-down');
    rmSync(runFolder(), { recursive: true, force: true });
  });

  it('joins, projects and stops without one error-level log line', async () => {
    const kafka = new Kafka({ clientId: 'bp-test', brokers: [brokers], logLevel: logLevel.NOTHING });
    const topic = uniqueName('fresh');
    await ensureTopic(kafka, topic, 3);
    const publisher = createKafkaPublisher(kafka, topic);
    try {
      const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
      const events = [
        ...simulateEvents({ seed: 20, events: 500, tenants: 3, openBets: 40, now: () => Date.now() }),
      ];
      for (let i = 0; i < events.length; i += 100) await store.append(events.slice(i, i + 100));
    } finally {
      await publisher.close();
    }
    const worker = startProjector(['worker'], {
      ...workerEnv(db),
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('g'),
    });
    try {
      await worker.waitForLog('"msg":"running"', 60_000);
      await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', topic), 60_000, 200);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
    const lines = worker
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(lines.map((l) => l.msg)).toContain('joined group');
    expect(lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});
