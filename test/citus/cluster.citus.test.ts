/**
 * Faults only a Citus cluster has, under a running load, each ending with the fault suite's oracle
 * (view = fold of the events, nothing lagging): a worker node crashed and restarted, distributed
 * transactions killed in the middle of their two-phase commit, and shards moved between nodes.
 * (The fault suite's other scenarios — SIGKILL, crash between the commits, killed connections,
 * a consumer rebalance, hostile delivery, racing writers on one bet — run on the cluster too:
 * `npm run test:citus` runs test/faults/faults.fault.test.ts against it.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { isCaughtUp } from '../../consumers/lag.js';
import { createKafkaPublisher } from '../../src/kafka/publisher.js';
import { createTestDatabase, onCitus, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/oracle.js';
import { startProjector } from '../support/processes.js';
import {
  appendLoad,
  scenarioReport,
  scenarioStream,
  settle,
  expectProducerFinished,
  simulateProcess,
  workerEnv,
  type ScenarioRow,
} from '../support/scenarios.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/citus.sh');

/** The cluster of scripts/citus.sh, when the tests run against it and may stop its nodes. */
function localCluster(): boolean {
  const url = new URL(requiredEnv('DATABASE_URL'));
  const port = process.env['CITUS_PORT'] ?? '9700';
  const cache = process.env['BET_PROJECTOR_CACHE'] ?? path.join(homedir(), '.cache', 'bet-projector');
  return (
    url.hostname === '127.0.0.1' &&
    url.port === port &&
    existsSync(path.join(cache, `citus-${port}`, 'worker2', 'PG_VERSION'))
  );
}

function citus(...args: string[]): void {
  execFileSync('bash', [SCRIPT, ...args], { stdio: 'ignore' });
}

interface NodeInfo {
  host: string;
  port: number;
}

const report: ScenarioRow[] = [];

describe('Citus cluster faults', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let env: Record<string, string>;
  let workers: NodeInfo[];
  /** A connection to the test database on a worker node, for looking at and killing backends. */
  const connectNode = async (node: NodeInfo): Promise<pg.Client> => {
    const url = new URL(db.url);
    url.hostname = node.host;
    url.port = String(node.port);
    const client = new pg.Client({ connectionString: url.toString() });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const onNode = async <T>(node: NodeInfo, work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = await connectNode(node);
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  beforeAll(() => {
    if (!onCitus()) throw new Error('test/citus runs against a Citus coordinator: npm run test:citus');
    kafka = testKafka();
  });
  beforeEach(async () => {
    db = await createTestDatabase();
    const { rows } = await db.pool.query<NodeInfo>(
      `SELECT nodename AS host, nodeport AS port FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport`,
    );
    workers = rows;
    env = {
      ...workerEnv(db),
      // A node away or a commit cut off: retried for about a minute.
      RETRY_INITIAL_MS: '100',
      RETRY_MAX_MS: '2000',
      RETRY_MAX_ATTEMPTS: '60',
    };
  });
  afterEach(async () => db.drop());
  afterAll(() => {
    process.stdout.write(scenarioReport(report));
  });

  /** A topic, a stream for it and a worker running on it. */
  async function begin(name: string, count: number) {
    const topic = await createTopic(kafka, name, 3);
    const group = uniqueName('g');
    const events = scenarioStream(count);
    const worker = startProjector(['worker'], { ...env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group });
    await worker.waitForLog('"msg":"running"', 30_000);
    return { topic, group, events, worker };
  }

  /** The scenario's worker catches up and stops cleanly; then the oracle. */
  async function end(
    run: Awaited<ReturnType<typeof begin>>,
    scenario: string,
    outcome: { duplicates: number; faultEnded: number; produced?: number },
  ) {
    await waitFor('caught up', () => isCaughtUp(db.pool, kafka, 'bets_view', run.topic), 120_000, 200);
    run.worker.child.kill('SIGTERM');
    expect(await run.worker.exited).toBe(0);
    await settle(
      { db, kafka, env, report },
      {
        topic: run.topic,
        group: run.group,
        scenario,
        ...outcome,
        produced: outcome.produced ?? run.events.length,
      },
    );
  }

  if (localCluster()) {
    it('a worker node crashed and restarted under load: producer and worker retry, nothing is lost', async () => {
      const run = await begin('citus-node', 5_000);
      const loading = appendLoad(db, kafka, run.topic, run.events, 1_000, { retry: true });
      await sleep(1_500);
      citus('node-stop', 'worker2', 'immediate');
      // Work for the worker while the node is away (appends stall then, so nothing else arrives):
      // events already stored, published again. Flushing them needs the stopped node.
      const republisher = createKafkaPublisher(kafka, run.topic);
      await republisher.publish(run.events.slice(0, 200));
      await republisher.close();
      await sleep(8_000);
      citus('node-start', 'worker2');
      const faultEnded = Date.now();
      const { duplicates, retried } = await loading;
      expect(retried).toBeGreaterThan(0);
      await end(run, `Citus worker node crashed (immediate stop) for 8 s; ${retried} producer retries`, {
        duplicates,
        faultEnded,
      });
      expect(run.worker.logs()).toContain('flush failed; retrying');
    });
  }

  // The coordinator too: every statement of the producer and the worker goes through it, and its
  // restart cuts every connection they hold, in the middle of distributed transactions.
  const restarted = [
    { node: 'worker2', what: 'a worker node', topic: 'citus-node-producer' },
    { node: 'coordinator', what: 'the coordinator', topic: 'citus-coordinator-producer' },
  ];
  for (const { node, what, topic } of restarted) {
    if (!localCluster()) continue;
    it(`${what} crashed under a running \`projector simulate\`: the producer retries, finishes, nothing is lost`, async () => {
      const run = await begin(topic, 0);
      const producing = simulateProcess(env, run.topic, { events: 6_000, rate: 600, seed: 4_344 });
      await sleep(2_500);
      citus('node-stop', node, 'immediate');
      await sleep(10_000);
      citus('node-start', node);
      const faultEnded = Date.now();
      const produced = await producing;
      await expectProducerFinished(db, produced, 6_000);
      await end(
        run,
        `Citus ${node === 'coordinator' ? 'coordinator' : 'worker node'} crashed for 10 s under \`projector simulate\`: ${produced.retries} producer retries`,
        { duplicates: produced.report.duplicates ?? 0, faultEnded, produced: 6_000 },
      );
    });
  }

  it('distributed transactions killed during their two-phase commit: recovery leaves no prepared transaction and nothing lost', async () => {
    const run = await begin('citus-2pc', 4_000);
    let loaded = false;
    const loading = appendLoad(db, kafka, run.topic, run.events, 800, { retry: true }).finally(
      () => (loaded = true),
    );
    // Kill, for as long as the load runs: the coordinator backends of the worker and the producer
    // while they COMMIT (Citus is preparing or committing on the worker nodes then), and the worker
    // nodes' backends running PREPARE TRANSACTION or COMMIT PREPARED for them.
    // A prepared transaction left behind holds its row locks until recovery resolves it (Citus's
    // maintenance daemon, every citus.recover_2pc_interval: a minute by default); the loop runs
    // recovery itself every half second, as an operator could, and stops killing after a dozen.
    const admin = new pg.Client({ connectionString: db.url });
    admin.on('error', () => undefined);
    await admin.connect();
    const nodes = await Promise.all(workers.map(connectNode));
    let coordinatorKills = 0;
    let nodeKills = 0;
    let lastRecovery = Date.now();
    try {
      while (!loaded) {
        if (Date.now() - lastRecovery > 500) {
          await admin.query('SELECT recover_prepared_transactions()');
          lastRecovery = Date.now();
        }
        if (coordinatorKills + nodeKills >= 12) {
          await sleep(50);
          continue;
        }
        const [coordinator, ...onWorkers] = await Promise.all([
          admin.query<{ killed: boolean }>(
            `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'active' AND query ILIKE 'COMMIT%'
               AND application_name IN ('bet-projector:worker', 'bet-projector:test-worker')`,
          ),
          ...nodes.map((client) =>
            client.query<{ killed: boolean }>(
              `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
               WHERE datname = current_database() AND state = 'active'
                 AND (query LIKE 'PREPARE TRANSACTION%' OR query LIKE 'COMMIT PREPARED%')`,
            ),
          ),
        ]);
        coordinatorKills += coordinator.rows.filter((r) => r.killed).length;
        nodeKills += onWorkers.reduce((n, r) => n + r.rows.filter((k) => k.killed).length, 0);
        await sleep(5);
      }
    } finally {
      await Promise.all(nodes.map((c) => c.end()));
    }
    const faultEnded = Date.now();
    let duplicates: number;
    try {
      ({ duplicates } = await loading);
      expect(coordinatorKills + nodeKills).toBeGreaterThan(0);
      // What the maintenance daemon does every citus.recover_2pc_interval, now: commit the prepared
      // transactions whose coordinator transaction committed, roll back the others.
      await admin.query('SELECT recover_prepared_transactions()');
    } finally {
      // Ended whatever happened above: a client left open keeps Jest from exiting.
      await admin.end();
    }
    for (const node of workers) {
      await waitFor(
        `no prepared transaction left on ${node.host}:${node.port}`,
        async () =>
          (
            await onNode(node, (c) =>
              c.query('SELECT 1 FROM pg_prepared_xacts WHERE database = current_database()'),
            )
          ).rowCount === 0,
        60_000,
        500,
      );
    }
    await end(
      run,
      `two-phase commits killed: ${coordinatorKills} coordinator COMMITs, ${nodeKills} PREPARE/COMMIT PREPARED on worker nodes`,
      { duplicates, faultEnded },
    );
  });

  it('shards moved between worker nodes under load, then rebalanced back', async () => {
    // An online move creates a logical replication slot, which waits for every transaction running
    // on the node, in any database — a prepared transaction left behind by something else would
    // hang it. Looked at before the load starts: under load, the scenario's own distributed
    // commits are prepared on the nodes for a moment each, which is not a leftover. One that is
    // still there after a few seconds is.
    for (const node of workers) {
      await waitFor(
        `no prepared transaction left on ${node.host}:${node.port}`,
        async () =>
          (
            await onNode(node, (c) =>
              c.query(`SELECT 1 FROM pg_prepared_xacts WHERE prepared < now() - interval '5 seconds'`),
            )
          ).rowCount === 0,
        30_000,
        500,
      ).catch(async (error: unknown) => {
        const stale = await onNode(node, (c) => c.query('SELECT gid, database FROM pg_prepared_xacts'));
        throw new Error(
          `${node.host}:${node.port} holds prepared transactions (${JSON.stringify(stale.rows)}): ` +
            'resolve them (recover_prepared_transactions() in their database) before moving shards',
          { cause: error },
        );
      });
    }
    const run = await begin('citus-move', 5_000);
    const loading = appendLoad(db, kafka, run.topic, run.events, 1_000, { retry: true });
    await sleep(1_000);
    try {
      const [from, to] = workers as [NodeInfo, NodeInfo];
      // A shard of bet_events and, colocated with it, bets_view's: they move together.
      const { rows } = await db.pool.query<{ shardid: string }>(
        `SELECT s.shardid::text AS shardid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
         JOIN pg_dist_node n ON n.groupid = p.groupid
         WHERE s.logicalrelid = 'bet_events'::regclass AND n.nodeport = $1 ORDER BY s.shardid LIMIT 2`,
        [from.port],
      );
      expect(rows.length).toBe(2);
      for (const { shardid } of rows) {
        await db.pool.query(
          `SELECT citus_move_shard_placement($1::bigint, $2, $3, $4, $5, shard_transfer_mode => 'force_logical')`,
          [shardid, from.host, from.port, to.host, to.port],
        );
      }
      const { rows: moved } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
         WHERE p.shardid = ANY($1::bigint[]) AND n.nodeport = $2`,
        [rows.map((r) => r.shardid), to.port],
      );
      expect(moved[0]!.n).toBe(2);
      await db.pool.query(
        `SELECT rebalance_table_shards('bet_events', shard_transfer_mode => 'force_logical')`,
      );
    } catch (error) {
      // The load still runs on this test's pool: let it end before the database is dropped.
      await loading.catch(() => undefined);
      throw error;
    }
    const faultEnded = Date.now();
    const { duplicates } = await loading;
    await end(run, 'two shard groups moved to the other worker node under load, then rebalanced', {
      duplicates,
      faultEnded,
    });
  });
});
