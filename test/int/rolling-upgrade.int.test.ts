/**
 * A rolling upgrade, as it happens: the schema is migrated first, a newer producer appends V1 and
 * V2 events while a worker of the previous release (built from its commit, run as its own
 * `projector worker` process — the real code path) still consumes. That worker must never fold a
 * bet past an event it cannot read: it dead-letters the V2 messages, holds their bets, and its own
 * `projector lag` names them. Then the upgraded worker takes over and `projector repair` brings the
 * held bets current; the rebuild gives the rows the previous release wrote their new columns. Every
 * read model then equals the fold of every event: nothing lost.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import type { BetEvent } from '../../src/events/types.js';
import { isCaughtUp } from '../../consumers/lag.js';
import { createKafkaPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { viewMismatches, waitFor } from '../support/oracle.js';
import { runProjector, startProjector } from '../support/processes.js';

/** The last release that knew V1 events only (it holds bets at types it does not know). */
const PREVIOUS_RELEASE = '2c222bcc060218aa156247617df3683d774f28d8';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** The previous release's CLI, built from its commit in this repository's history. */
function buildPreviousRelease(): { cli: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'bp-previous-'));
  // A clone without history cannot stand the previous release up: that is an error, not a skip.
  const archive = spawnSync('git', ['archive', '--format=tar', PREVIOUS_RELEASE], {
    cwd: ROOT,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) {
    throw new Error(
      `the previous release ${PREVIOUS_RELEASE} is not in this checkout's git history: ${archive.stderr.toString()}`,
    );
  }
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar: ${untar.stderr.toString()}`);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  run(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    dir,
  );
  return { cli: path.join(dir, 'dist/cli/main.js'), dir };
}

describe('a rolling upgrade: workers of the previous release meet V2 events, upgraded ones heal', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let previous: { cli: string; dir: string };
  let env: Record<string, string>;
  beforeAll(async () => {
    previous = buildPreviousRelease();
    db = await createTestDatabase();
    kafka = testKafka();
    env = { DATABASE_URL: db.workerUrl, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'), HTTP_PORT: '0' };
  });
  afterAll(async () => {
    await db.drop();
    rmSync(previous.dir, { recursive: true, force: true });
  });

  it('holds, never folds past, what it cannot read; repair after the upgrade leaves nothing behind', async () => {
    const topic = await createTopic(kafka, 'rollout', 3);
    const groupId = uniqueName('g');
    const workerEnv = { ...env, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: groupId };
    // The newer producer's stream: half the bets V2, a third of those accumulators, V1 and V2 mixed.
    const events = [
      ...simulateEvents({
        seed: 22,
        events: 3_000,
        tenants: 4,
        openBets: 300,
        v2Share: 0.5,
        now: Date.now,
      }),
    ];
    const v2 = events.filter((e) => e.eventType.startsWith('V2_'));
    const heldBets = new Set(v2.map((e) => `${e.tenantId}:${e.aggregateId}`));
    const old = startProjector(['worker'], workerEnv, { cli: previous.cli });
    try {
      await old.waitForLog('serving /metrics', 60_000);
      const publisher = createKafkaPublisher(kafka, topic);
      const store = createEventStore({ pool: db.workerPool, publisher });
      for (let i = 0; i < events.length; i += 100) await store.append(events.slice(i, i + 100));
      await publisher.close();
      await waitFor(
        'the previous release to reach the end of the topic',
        () => isCaughtUp(db.pool, kafka, 'bets_view', topic),
        60_000,
      );

      // It dead-lettered every V2 message and folded no row past a V2 event.
      expect(v2.length).toBeGreaterThan(100);
      const { rows: letters } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM dead_letters WHERE topic = $1 AND reason LIKE 'event_type "V2_%'`,
        [topic],
      );
      expect(letters[0]!.n).toBe(v2.length);
      const { rows: pastV2 } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM bets_view v
           JOIN bet_events e ON e.tenant_id = v.tenant_id AND e.aggregate_id = v.bet_id AND e.version <= v.version
          WHERE e.event_type LIKE 'V2_%'`,
      );
      expect(pastV2[0]!.n).toBe(0);
      // Its own lag names the held bets by the type that holds them.
      const oldLag = await runProjector(
        ['lag', '--json', '--no-kafka', '--since', 'all'],
        workerEnv,
        undefined,
        {
          cli: previous.cli,
        },
      );
      const oldView = (
        JSON.parse(oldLag.stdout) as { view: { laggingBets: number; held: Record<string, number> } }
      ).view;
      expect(oldView.laggingBets).toBe(heldBets.size);
      expect(Object.keys(oldView.held).sort()).toEqual(['V2_BET_PLACED']);
      expect(oldView.held['V2_BET_PLACED']).toBe(heldBets.size);
    } finally {
      old.child.kill('SIGTERM');
      await old.exited;
    }

    // The upgrade: this release's worker takes the same group over (remembering the rows it writes,
    // VIEW_ROW_CACHE_SIZE); then one repair.
    const upgraded = startProjector(['worker'], { ...workerEnv, VIEW_ROW_CACHE_SIZE: '10000' });
    const publisher = createKafkaPublisher(kafka, topic);
    const store = createEventStore({ pool: db.workerPool, publisher });
    const latest = new Map(events.map((e) => [`${e.tenantId}:${e.aggregateId}`, e]));
    /** One more event for each of these bets, published; then wait for the worker to project it. */
    const cancel = async (bets: readonly string[], reason: string) => {
      const next = bets.map((key) => {
        const last = latest.get(key)!;
        const event = {
          ...last,
          version: last.version + 1,
          idempotencyKey: `${last.aggregateId}-v${last.version + 1}`,
          eventType: 'V1_BET_CANCELLED',
          eventData: { reason },
          timestamp: Date.now(),
        } as BetEvent;
        latest.set(key, event);
        return event;
      });
      await store.append(next);
      await waitFor(
        'the upgraded worker to catch up',
        () => isCaughtUp(db.pool, kafka, 'bets_view', topic),
        60_000,
      );
    };
    const legsOf = async (bets: readonly string[]) => {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM bets_view
          WHERE tenant_id || ':' || bet_id = ANY($1::text[]) AND legs IS NOT NULL`,
        [bets],
      );
      return rows[0]!.n;
    };
    // Bets the previous release wrote (V1 only): their rows have no legs yet.
    const v1Bets = [...latest.keys()].filter((key) => !heldBets.has(key));
    const touched = v1Bets.slice(0, 40);
    try {
      await upgraded.waitForLog('serving /metrics', 60_000);
      // The rows the previous release wrote (V1 only) lack the columns it did not write (legs,
      // legs_count, combined_odds): the upgraded worker gives a bet them as soon as its next event
      // arrives (it re-folds a row without legs from the events rather than fold onto it)...
      expect(await legsOf(v1Bets)).toBe(0);
      await cancel(touched, 'after the upgrade');
      expect(await legsOf(touched)).toBe(touched.length);
      expect(await legsOf(v1Bets)).toBe(touched.length);
      // ...and repair brings the held bets current and rewrites every other such row with its fold
      // (what verify finds), so every bet is current and every read model sums what it must.
      const repair = await runProjector(['repair', '--since', 'all'], workerEnv);
      expect(repair.code).toBe(0);
      expect(JSON.parse(repair.stdout)).toMatchObject({
        lagging: heldBets.size,
        repaired: heldBets.size,
        rewritten: v1Bets.length - touched.length,
        leftToRebuild: 0,
      });
      const lag = await runProjector(['lag', '--no-kafka', '--since', 'all', '--fail-over', '0'], workerEnv);
      expect(lag.code).toBe(0);
      expect(lag.stdout).not.toContain('held');
      expect(await legsOf(v1Bets)).toBe(v1Bets.length);
      expect(await viewMismatches(db.pool)).toEqual([]);
      // The rebuild, the upgrade's last step (docs/upgrading.md), runs without downtime; events
      // after it keep what it wrote, whatever the worker remembered before it.
      const rebuild = await runProjector(['rebuild'], { ...workerEnv, DATABASE_URL: db.url });
      expect(rebuild.code).toBe(0);
      await cancel(v1Bets.slice(0, 80), 'after the rebuild');
      expect(await legsOf(v1Bets)).toBe(v1Bets.length);
      expect(await viewMismatches(db.pool)).toEqual([]);
      // The previous release's dead letters of V2 messages are valid now: replayed, they change
      // nothing (the bets are already current) and are marked so.
      const replay = await runProjector(['dlq', 'replay', '--limit', '100000'], workerEnv);
      expect(replay.code).toBe(0);
      expect(JSON.parse(replay.stdout)).toEqual({ replayed: v2.length, stillInvalid: 0, notStored: 0 });
      expect(JSON.parse((await runProjector(['dlq', 'list', '--json'], workerEnv)).stdout)).toEqual([]);
      expect(await viewMismatches(db.pool)).toEqual([]);
    } finally {
      upgraded.child.kill('SIGTERM');
      await upgraded.exited;
      await publisher.close();
    }
  });
});
