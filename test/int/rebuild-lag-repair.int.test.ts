import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import {
  betsProjection,
  FOLLOWERS,
  inlineProjection,
  rebuildReadModels as rebuildBetsView,
  reconciler,
} from '../../projections/registry.js';
import { laggingBets } from '../../projections/bets/lag.js';
import { shadowFillSql, SHADOW_TABLE } from '../../projections/bets/rebuild.js';
import { repairBets } from '../../projections/bets/repair.js';
import { sweepOnce } from '../../consumers/sweep.js';
import { createKafkaPublisher, noPublisher, type EventPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore, type EventStore } from '../../src/store/eventStore.js';
import type { BetEvent } from '../../src/events/types.js';
import { createTestDatabase, onCitus, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches } from '../support/oracle.js';
import { runProjector } from '../support/processes.js';
import { appendInBatches } from '../support/append.js';
import { startWorker, untilCaughtUp, workerConfig } from '../support/worker.js';
import { testSeed } from '../support/seed.js';

const stream = (events: number, tenants = 6): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants, openBets: 200, now: () => Date.now() }),
];

const rowCount = async (db: TestDatabase) =>
  (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bets_view')).rows[0]!.n;

describe('rebuild without downtime', () => {
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

  it('swaps in a rebuilt view while two workers project a live stream; readers never see fewer rows', async () => {
    const topic = await createTopic(kafka, 'rebuild-live', 4);
    const publisher = createKafkaPublisher(kafka, topic);
    publishers.push(publisher);
    const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
    const config = workerConfig(topic, uniqueName('g'));
    await appendInBatches(store, stream(4_000));
    const workers = [startWorker(db.workerPool, kafka, config), startWorker(db.workerPool, kafka, config)];
    await untilCaughtUp(db.pool, kafka, config, workers[0]);

    // A reader polls the view on its own connections throughout.
    let polling = true;
    let minRowsSeen = Number.MAX_SAFE_INTEGER;
    const before = await rowCount(db);
    const reader = (async () => {
      while (polling) minRowsSeen = Math.min(minRowsSeen, await rowCount(db));
    })();
    // The stream goes on during the rebuild.
    const producing = appendInBatches(store, stream(3_000), 50);
    const report = await rebuildBetsView(db.pool, { chunks: 3, concurrency: 2 });
    await producing;
    await untilCaughtUp(db.pool, kafka, config, workers[0]);
    polling = false;
    await reader;
    for (const w of workers) await w.stop();

    expect(report.swapped).toBe(true);
    expect(minRowsSeen).toBeGreaterThanOrEqual(before);
    expect(workers.map((w) => w.worker.state)).toEqual(['stopped', 'stopped']);
    expect(await viewMismatches(db.pool)).toEqual([]);
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_class WHERE relname IN ('bets_view_rebuild', 'bets_view_retired')`,
    );
    expect(rows).toEqual([]);
    const { rows: indexes } = await db.pool.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'bets_view' ORDER BY 1`,
    );
    expect(indexes.map((i) => i.indexname)).toEqual(['bets_view_pkey', 'bets_view_user_idx']);
  });

  it('--dry-run reports differences without swapping; the real rebuild (copy or set) repairs them', async () => {
    await db.pool.query(
      `UPDATE bets_view SET status = 'won', payout = 999 WHERE bet_id = (SELECT min(bet_id) FROM bets_view)`,
    );
    await db.pool.query(`DELETE FROM bets_view WHERE bet_id = (SELECT max(bet_id) FROM bets_view)`);
    const dry = await rebuildBetsView(db.pool, { dryRun: true });
    expect(dry.swapped).toBe(false);
    expect(dry.differences?.count).toBe(2);
    expect(dry.differences?.sample.map((d) => d.live === null).sort()).toEqual([false, true]);
    expect((await viewMismatches(db.pool)).length).toBeGreaterThanOrEqual(2);

    const copy = await rebuildBetsView(db.pool, { strategy: 'copy', chunks: 2 });
    expect(copy.swapped).toBe(true);
    expect(await viewMismatches(db.pool)).toEqual([]);
    const set = await rebuildBetsView(db.pool, { strategy: 'set' });
    expect(set.bets).toBe(copy.bets);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it("the rebuilt table keeps the live table's storage parameters (migration 007's fillfactor)", async () => {
    const options = async () =>
      (
        await db.pool.query<{ options: string[] | null }>(
          "SELECT reloptions AS options FROM pg_class WHERE oid = 'bets_view'::regclass",
        )
      ).rows[0]!.options;
    expect(await options()).toEqual(['fillfactor=70']);
    await db.pool.query('ALTER TABLE bets_view SET (autovacuum_vacuum_scale_factor = 0.05)');
    await rebuildBetsView(db.pool, {});
    expect(await options()).toEqual(['fillfactor=70', 'autovacuum_vacuum_scale_factor=0.05']);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('on Citus, the rebuilt view is distributed by tenant_id, colocated with bet_events, and protected on every shard', async () => {
    if (!onCitus()) {
      // Nothing to distribute on plain PostgreSQL: the rebuild never asks for Citus's catalog.
      const { rows } = await db.pool.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
      expect(rows).toEqual([]);
      return;
    }
    await rebuildBetsView(db.pool, { chunks: 2 });
    const { rows } = await db.pool.query<{ table: string; column: string; group: number }>(
      `SELECT logicalrelid::text AS table, column_to_column_name(logicalrelid, partkey) AS column,
              colocationid AS group
       FROM pg_dist_partition WHERE logicalrelid IN ('bets_view'::regclass, 'bet_events'::regclass) ORDER BY 1`,
    );
    expect(rows.map((r) => r.column)).toEqual(['tenant_id', 'tenant_id']);
    expect(rows[0]!.group).toBe(rows[1]!.group);
    const { rows: shards } = await db.pool.query<{ result: string }>(
      `SELECT result FROM run_command_on_shards('bets_view',
         $$SELECT relrowsecurity || ' ' || (SELECT count(*) FROM pg_policy WHERE polrelid = '%1$s'::regclass)
                  || ' ' || array_to_string(reloptions, ',')
           FROM pg_class WHERE oid = '%1$s'::regclass$$)`,
    );
    expect(shards.length).toBeGreaterThan(1);
    // Row-level security on, both policies, and the live table's storage parameters (an earlier
    // test added one to migration 007's fillfactor).
    const { rows: live } = await db.pool.query<{ options: string }>(
      `SELECT array_to_string(reloptions, ',') AS options FROM pg_class WHERE oid = 'bets_view'::regclass`,
    );
    expect(live[0]!.options).toMatch(/^fillfactor=70/);
    for (const shard of shards) expect(shard.result).toBe(`true 2 ${live[0]!.options}`);
    // The fill runs on the shards: Citus plans the INSERT … SELECT between colocated tables as one
    // task per shard, not by pulling the rows through the coordinator.
    await db.pool.query(`CREATE TABLE bets_view_rebuild (LIKE bets_view INCLUDING DEFAULTS)`);
    await db.pool.query(
      `SELECT create_distributed_table('bets_view_rebuild', 'tenant_id', colocate_with => 'bet_events')`,
    );
    const fill = shadowFillSql({ index: 1, of: 4 });
    // Citus plans no EXPLAIN of a parameterised INSERT … SELECT: the chunk's two integers and the
    // known event types inlined.
    const inlined = fill.text
      .replace(/\$(\d+)::integer/g, (_, n: string) => `${Number(fill.values[Number(n) - 1])}`)
      .replace(/\$(\d+)::text\[\]/g, (_, n: string) => {
        const types = fill.values[Number(n) - 1] as readonly string[];
        return `ARRAY[${types.map((t) => `'${t.replace(/\W/g, '')}'`).join(', ')}]::text[]`;
      });
    const { rows: plan } = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${inlined}`);
    await db.pool.query(`DROP TABLE ${SHADOW_TABLE}`);
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Task Count: \d+/);
    expect(text).not.toMatch(/pull to coordinator|repartition/i);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('the locked pass catches what workers project after the unlocked catch-up', async () => {
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    const late = stream(300, 3);
    let written = 0;
    const report = await rebuildBetsView(db.pool, {
      chunks: 2,
      // New bets and new versions, committed after the first catch-up's snapshot, as the swap
      // phase begins: before its lock.
      onProgress: async ({ phase, done }) => {
        if (phase !== 'swap' || done !== 0) return;
        for (let i = 0; i < late.length; i += 50) {
          written += (await store.append(late.slice(i, i + 50), { projection: 'immediate' })).appended.length;
        }
      },
    });
    expect(written).toBe(late.length);
    expect(report.swapped).toBe(true);
    expect(report.caughtUpBets).toBeGreaterThan(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('the new view serves readers before its statistics are gathered, and has them when the rebuild ends', async () => {
    // Manual ANALYZEs of bets_view (autovacuum's are counted apart): on Citus, of its shards, on
    // the worker nodes.
    const statistics = async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        onCitus()
          ? `SELECT coalesce(sum(result::int), 0)::int AS n FROM run_command_on_shards('bets_view',
               $$SELECT analyze_count FROM pg_stat_user_tables WHERE relid = '%s'::regclass$$)`
          : `SELECT analyze_count::int AS n FROM pg_stat_user_tables WHERE relid = 'bets_view'::regclass`,
      );
      return rows[0]!.n;
    };
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    const events = stream(300, 4);
    for (let i = 0; i < events.length; i += 100)
      await store.append(events.slice(i, i + 100), { projection: 'immediate' });
    const expected = await rowCount(db);
    expect(expected).toBeGreaterThan(0);
    let atAnalyze: { statistics: number; rows: number; shadowLeft: boolean } | undefined;
    const report = await rebuildBetsView(db.pool, {
      onProgress: async ({ phase, done }) => {
        if (phase !== 'analyze' || done !== 0) return;
        const { rows } = await db.pool.query<{ left: boolean }>(
          `SELECT to_regclass('${SHADOW_TABLE}') IS NOT NULL AS left`,
        );
        atAnalyze = { statistics: await statistics(), rows: await rowCount(db), shadowLeft: rows[0]!.left };
      },
    });
    // Swapped in, whole, with no statistics yet: the ANALYZE comes after, on the live table.
    expect(atAnalyze).toEqual({ statistics: 0, rows: expected, shadowLeft: false });
    expect(await statistics()).toBeGreaterThan(0);
    expect(report.swapped).toBe(true);
    expect(report.analyzeError).toBeUndefined();
    expect(report.liveMs).toBeGreaterThanOrEqual(report.fillMs + report.indexMs + report.lockedMs);
    expect(report.totalMs).toBeGreaterThanOrEqual(report.liveMs + report.analyzeMs);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('one bet re-folded through the read models (projector repair --tenant N --bet ID), version-guarded', async () => {
    const { rows } = await db.pool.query<{ tenant_id: number; bet_id: string }>(
      'SELECT tenant_id, bet_id FROM bets_view WHERE version >= 2 LIMIT 1',
    );
    const bet = { tenantId: Number(rows[0]!.tenant_id), betId: rows[0]!.bet_id };
    const repairOne = async () => (await repairBets(db.workerPool, betsProjection, [bet])).rowsWritten;
    expect(await repairOne()).toBe(0);
    await db.pool.query('DELETE FROM bets_view WHERE tenant_id = $1 AND bet_id = $2', [
      bet.tenantId,
      bet.betId,
    ]);
    expect(await repairOne()).toBe(1);
    // The row deleted by hand left the followers counting it; the re-fold counted it again.
    await reconciler.repairFollowers(db.workerPool);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});

describe('lag, repair and the reconciliation sweep', () => {
  let db: TestDatabase;
  let store: EventStore;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    env = { DATABASE_URL: db.workerUrl, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS') };
  });
  afterAll(async () => db.drop());

  it('lag reports exactly the bets appended without publishing, repair heals them, lag is then zero', async () => {
    const projected = stream(600);
    for (let i = 0; i < projected.length; i += 100) {
      await store.append(projected.slice(i, i + 100), { projection: 'immediate' });
    }
    const unpublished = stream(300);
    await appendInBatches(store, unpublished);
    const expected = new Set(unpublished.map((e) => `${e.tenantId}:${e.aggregateId}`));

    const lagging = await laggingBets(db.pool);
    expect(new Set(lagging.map((b) => `${b.tenantId}:${b.betId}`))).toEqual(expected);
    expect(lagging.every((b) => b.viewVersion === 0 && b.latestVersion >= 1 && b.lagMs >= 0)).toBe(true);

    const report = await runProjector(['lag', '--json', '--no-kafka', '--fail-over', '0'], env);
    expect(report.code).toBe(1);
    const json = JSON.parse(report.stdout) as { view: { laggingBets: number; topTenants: unknown[] } };
    expect(json.view.laggingBets).toBe(expected.size);
    expect(json.view.topTenants.length).toBeGreaterThan(0);
    expect((await runProjector(['lag', '--no-kafka', '--fail-over', String(expected.size)], env)).code).toBe(
      0,
    );

    // A Pushgateway stand-in: what `repair` pushes while it runs and when it ends.
    const pushes: Array<{ method: string; url: string; body: string }> = [];
    const gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        pushes.push({ method: req.method ?? '', url: req.url ?? '', body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const port = (gateway.address() as AddressInfo).port;
    const repaired = await runProjector(['repair', '--since', '1h', '--batch-size', '25'], {
      ...env,
      PUSHGATEWAY_URL: `http://127.0.0.1:${port}`,
    });
    await new Promise<void>((resolve) => gateway.close(() => resolve()));
    expect(repaired.code).toBe(0);
    // Progress went to stderr; stdout holds the result alone.
    expect(repaired.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(repaired.stdout)).toEqual({
      lagging: expected.size,
      repaired: expected.size,
      // Once re-folded, every row is the fold of its events: verify finds nothing more.
      differing: 0,
      rewritten: 0,
      leftToRebuild: 0,
      // Written through bets_view's UPSERT, the followers moved with the repaired rows: nothing to set.
      followersRepaired: Object.fromEntries(FOLLOWERS.map((f) => [f.name, 0])),
      // No --max-events-per-second: it never waited.
      throttledMs: 0,
    });
    const last = pushes.at(-1)!;
    expect(last).toMatchObject({ method: 'PUT', url: '/metrics/job/bet_projector_repair' });
    expect(last.body).toContain('projector_repair_progress_ratio 1');
    expect(last.body).toContain(`projector_repaired_bets_total{source="repair"} ${expected.size}`);
    expect(await laggingBets(db.pool)).toEqual([]);
    expect((await runProjector(['lag', '--no-kafka', '--fail-over', '0'], env)).code).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
    // Idempotent: a second repair of the same bets writes nothing.
    const again = [...expected].map((k) => ({ tenantId: Number(k.split(':')[0]), betId: k.split(':')[1]! }));
    expect(await repairBets(db.workerPool, betsProjection, again)).toEqual({
      bets: expected.size,
      rowsWritten: 0,
    });
  });

  it('the reconciler scopes by tenants and by bets, and repairs only what it is given', async () => {
    const missed = stream(600);
    await appendInBatches(store, missed);
    const all = await reconciler.laggingBets(db.pool);
    const tenants = [...new Set(all.map((b) => b.tenantId))].sort((a, b) => a - b);
    expect(tenants.length).toBeGreaterThan(2);
    const [first, second] = tenants as [number, number];
    const ofFirst = await reconciler.laggingBets(db.pool, { tenantIds: [first] });
    expect(ofFirst.length).toBe(all.filter((b) => b.tenantId === first).length);
    expect(new Set(ofFirst.map((b) => b.tenantId))).toEqual(new Set([first]));
    // Two bets by reference, one per tenant: exactly those, even though ids are matched per tenant.
    const picked = [ofFirst[0]!, all.find((b) => b.tenantId === second)!].map((b) => ({
      tenantId: b.tenantId,
      betId: b.betId,
    }));
    const ofPicked = await reconciler.laggingBets(db.pool, { bets: picked });
    expect(ofPicked.map((b) => `${b.tenantId}:${b.betId}`).sort()).toEqual(
      picked.map((b) => `${b.tenantId}:${b.betId}`).sort(),
    );
    // Repairing one tenant's leaves the others lagging, untouched.
    const repaired = await reconciler.repairBets(db.workerPool, ofFirst);
    expect(repaired).toEqual({ bets: ofFirst.length, rowsWritten: ofFirst.length });
    const left = await reconciler.laggingBets(db.pool);
    expect(left.filter((b) => b.tenantId === first)).toEqual([]);
    expect(left.length).toBe(all.length - ofFirst.length);
    await reconciler.repairBets(db.workerPool, left);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('the sweep heals events that never reached Kafka, within its window and after its grace period', async () => {
    const missed = stream(200);
    await appendInBatches(store, missed);
    const config = { sweepIntervalMs: 1_000, sweepWindowMs: 3_600_000, sweepGraceMs: 60_000 };
    // Still within the grace period: in flight, not lagging.
    expect(await sweepOnce(db.pool, config, reconciler)).toEqual({ ran: true, lagging: 0, repaired: 0 });
    const result = await sweepOnce(db.pool, config, reconciler, Date.now() + 120_000);
    expect(result.repaired).toBe(new Set(missed.map((e) => e.aggregateId)).size);
    expect(await laggingBets(db.pool)).toEqual([]);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});

describe('immediate mode next to the worker', () => {
  let immediate: TestDatabase;
  let alone: TestDatabase;
  let kafka: Kafka;
  const publishers: EventPublisher[] = [];
  beforeAll(async () => {
    [immediate, alone] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const p of publishers) await p.close();
    await Promise.all([immediate.drop(), alone.drop()]);
  });

  it('produces the same rows as the worker alone, and the worker finds nothing left to do', async () => {
    const events = stream(1_500);
    const snapshots: Array<Map<string, string>> = [];
    for (const [db, mode] of [
      [immediate, 'immediate'],
      [alone, 'async'],
    ] as const) {
      const topic = await createTopic(kafka, `immediate-${mode}`, 2);
      const publisher = createKafkaPublisher(kafka, topic);
      publishers.push(publisher);
      const store = createEventStore({ pool: db.workerPool, publisher, inline: inlineProjection });
      for (let i = 0; i < events.length; i += 100) {
        await store.append(events.slice(i, i + 100), { projection: mode });
      }
      const config = workerConfig(topic, uniqueName('g'));
      const worker = startWorker(db.workerPool, kafka, config);
      await untilCaughtUp(db.pool, kafka, config, worker);
      await worker.stop();
      if (mode === 'immediate') {
        expect(worker.worker.stats.staleEvents).toBe(events.length);
        expect(worker.worker.stats.projectedRows).toBe(0);
      }
      const { rows } = await db.pool.query<{ key: string; row: string }>(
        `SELECT tenant_id || ':' || bet_id AS key, (to_jsonb(v) - 'projected_at' - 'previous_status' - 'previous_payout' - 'previous_event_at')::text AS row FROM bets_view v`,
      );
      snapshots.push(new Map(rows.map((r) => [r.key, r.row])));
    }
    expect(snapshots[0]).toEqual(snapshots[1]);
    expect(await viewMismatches(immediate.pool)).toEqual([]);
  });
});

describe('dead letter list and replay', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.workerUrl, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS') };
  });
  afterAll(async () => db.drop());

  it('replays what validates now and is stored, keeps the rest, and deletes nothing', async () => {
    const [stored, unknown] = stream(400).filter((e) => e.version === 1);
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    await store.append([stored!]);
    const json = (e: BetEvent) =>
      Buffer.from(
        JSON.stringify({
          tenant_id: e.tenantId,
          aggregate_id: e.aggregateId,
          version: e.version,
          idempotency_key: e.idempotencyKey,
          event_type: e.eventType,
          event_data: e.eventData,
          timestamp: e.timestamp,
        }),
      );
    await db.pool.query(
      `INSERT INTO dead_letters (topic, partition, kafka_offset, message_key, payload, reason) VALUES
       ('t', 0, 1, 'k', $1, 'rejected by an older release'), ('t', 0, 2, 'k', $2, 'is not JSON'),
       ('t', 0, 3, 'k', $3, 'rejected by an older release')`,
      [json(stored!), Buffer.from('{broken'), json(unknown!)],
    );
    const listed = await runProjector(['dlq', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(3);

    const replay = await runProjector(['dlq', 'replay'], env);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toEqual({ replayed: 1, stillInvalid: 1, notStored: 1 });
    const { rows } = await db.pool.query<{ kafka_offset: number; replayed: boolean; replay_result: string }>(
      'SELECT kafka_offset, replayed_at IS NOT NULL AS replayed, replay_result FROM dead_letters ORDER BY 1',
    );
    expect(rows.map((r) => [r.kafka_offset, r.replayed])).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ]);
    expect(rows[0]!.replay_result).toBe('projected');
    expect(rows[1]!.replay_result).toContain('still invalid: message "{broken" is not JSON');
    expect(rows[2]!.replay_result).toBe('valid, but not in bet_events: left for review');
    expect(await viewMismatches(db.pool)).toEqual([]);
    const remaining = await runProjector(['dlq', 'list', '--json'], env);
    expect((JSON.parse(remaining.stdout) as unknown[]).length).toBe(2);
    expect((await runProjector(['dlq', 'purge'], env)).code).toBe(2);
  });
});
