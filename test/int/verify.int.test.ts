/**
 * `projector verify` against real PostgreSQL (and Citus under test:citus): rows corrupted in known
 * ways — a column changed, a row deleted, a row without events — are exactly what it reports, column
 * by column and tenant by tenant; a bet behind only by events in flight is not; and the command
 * exits 1 while anything differs, 0 when nothing does.
 */
import { reconciler } from '../../projections/registry.js';
import { inlineProjection } from '../../projections/registry.js';
import type { BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { runProjector } from '../support/processes.js';

const T0 = 1_790_000_000_000;
const LONG_AGO = T0 + 86_400_000;

describe('projector verify', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const events: BetEvent[] = [
    ...simulateEvents({ seed: 4_242, events: 600, tenants: 3, openBets: 40, v2Share: 0.5, now: () => T0 }),
  ];
  beforeAll(async () => {
    db = await createTestDatabase();
    env = {
      DATABASE_URL: db.workerUrl,
      KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
      PUBLISH_EVENTS: 'false',
    };
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    for (let i = 0; i < events.length; i += 50)
      await store.append(events.slice(i, i + 50), { projection: 'immediate' });
  });
  afterAll(async () => db.drop());

  const oneRow = async (sql: string, values: unknown[] = []) =>
    (await db.pool.query<{ tenant_id: number; bet_id: string }>(sql, values)).rows[0]!;

  it('reports exactly the rows made wrong, with the columns that differ; scoped by tenant and bet', async () => {
    expect(await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO })).toEqual([]);
    const clean = await runProjector(['verify'], env);
    expect(clean.stdout).toContain('bets_view: 0 bets differ');
    expect(clean.code).toBe(0);

    const tenants = [...new Set(events.map((e) => e.tenantId))].sort((a, b) => a - b);
    const [t1, t2, t3] = tenants as [number, number, number];
    const paid = await oneRow(
      `UPDATE bets_view SET payout = payout + 1 WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 AND payout IS NOT NULL ORDER BY bet_id LIMIT 1)
       RETURNING tenant_id, bet_id`,
      [t1],
    );
    const renamed = await oneRow(
      `UPDATE bets_view SET user_id = user_id || '-x', legs = '[]'::jsonb WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1)
       RETURNING tenant_id, bet_id`,
      [t2],
    );
    const deleted = await oneRow(
      `DELETE FROM bets_view WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id DESC LIMIT 1)
       RETURNING tenant_id, bet_id`,
      [t2],
    );
    await db.pool.query(
      `INSERT INTO bets_view (tenant_id, bet_id, status, version, last_event_type, last_updated_timestamp)
       VALUES ($1, 'ghost', 'placed', 1, 'V1_BET_PLACED', $2)`,
      [t3, T0],
    );

    const found = await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO });
    const byBet = new Map(found.map((d) => [`${d.tenantId}:${d.betId}`, d]));
    expect([...byBet.keys()].sort()).toEqual(
      [
        `${paid.tenant_id}:${paid.bet_id}`,
        `${renamed.tenant_id}:${renamed.bet_id}`,
        `${deleted.tenant_id}:${deleted.bet_id}`,
        `${t3}:ghost`,
      ].sort(),
    );
    expect(byBet.get(`${paid.tenant_id}:${paid.bet_id}`)!.columns).toEqual(['payout']);
    expect([...byBet.get(`${renamed.tenant_id}:${renamed.bet_id}`)!.columns].sort()).toEqual([
      'legs',
      'user_id',
    ]);
    expect(byBet.get(`${deleted.tenant_id}:${deleted.bet_id}`)!.viewVersion).toBeNull();
    expect(byBet.get(`${t3}:ghost`)!.foldVersion).toBeNull();

    // Scoped: one tenant, then one of its bets.
    expect(
      (await reconciler.differingBets(db.pool, { tenantIds: [t1], cutoffMs: LONG_AGO })).map((d) => d.betId),
    ).toEqual([paid.bet_id]);
    expect(
      await reconciler.differingBets(db.pool, {
        tenantIds: [t2],
        betIds: [renamed.bet_id],
        cutoffMs: LONG_AGO,
      }),
    ).toHaveLength(1);

    const dirty = await runProjector(['verify', '--json'], env);
    expect(dirty.code).toBe(1);
    const report = JSON.parse(dirty.stdout) as { bets: Array<{ betId: string }> };
    expect(report.bets).toHaveLength(4);
    const scoped = await runProjector(['verify', '--tenant', String(t1), '--bet', paid.bet_id], env);
    expect(scoped.code).toBe(1);
    expect(scoped.stdout).toContain(paid.bet_id);
    expect(scoped.stdout).toContain('payout');
    const bad = await runProjector(['verify', '--bet', paid.bet_id], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--bet needs exactly one --tenant');
  });

  it('a bet behind only by events newer than the grace is in flight, not different', async () => {
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    const open = await oneRow(
      `SELECT tenant_id, bet_id FROM bets_view WHERE status IN ('placed', 'accepted') AND bet_id <> 'ghost' ORDER BY bet_id LIMIT 1`,
    );
    const version = (
      await db.pool.query<{ v: number }>(
        'SELECT version AS v FROM bets_view WHERE tenant_id = $1 AND bet_id = $2',
        [open.tenant_id, open.bet_id],
      )
    ).rows[0]!.v;
    const now = Date.now();
    // Stored, not projected (no worker runs here).
    await store.append([
      {
        tenantId: open.tenant_id,
        aggregateId: open.bet_id,
        version: version + 1,
        idempotencyKey: `${open.bet_id}-cancel-in-flight`,
        eventType: 'V1_BET_CANCELLED',
        eventData: { reason: 'verify test' },
        timestamp: now,
      },
    ]);
    const mine = (found: Awaited<ReturnType<typeof reconciler.differingBets>>) =>
      found.filter((d) => d.tenantId === open.tenant_id && d.betId === open.bet_id);
    expect(
      mine(await reconciler.differingBets(db.pool, { tenantIds: [open.tenant_id], cutoffMs: now - 10_000 })),
    ).toEqual([]);
    const late = mine(
      await reconciler.differingBets(db.pool, { tenantIds: [open.tenant_id], cutoffMs: now + 1 }),
    );
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({ foldVersion: version + 1, viewVersion: version });
    expect(late[0]!.columns).toEqual(expect.arrayContaining(['status', 'version']));
  });
  it('repair --tenant N heals what verify finds in that tenant, and leaves the other tenants untouched', async () => {
    // The earlier tests left rows wrong in three tenants and one bet in flight. Repair heals them
    // all but the row without events, which it leaves to rebuild (the worker's role cannot delete).
    const all = await runProjector(['repair'], env);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout.trim().split('\n').at(-1)!)).toMatchObject({ leftToRebuild: 1 });
    expect((await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO })).map((d) => d.betId)).toEqual([
      'ghost',
    ]);
    await db.pool.query("DELETE FROM bets_view WHERE bet_id = 'ghost'");
    const tenants = [...new Set(events.map((e) => e.tenantId))].sort((a, b) => a - b);
    const [t1, t2] = tenants as [number, number];
    const corrupt = (tenant: number) =>
      oneRow(
        `UPDATE bets_view SET amount = amount + 1, status = 'won' WHERE (tenant_id, bet_id) =
           (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1 OFFSET 2)
         RETURNING tenant_id, bet_id`,
        [tenant],
      );
    const first = await corrupt(t1);
    const second = await corrupt(t2);
    const untouched = async () =>
      (
        await db.pool.query<{ row: string }>(
          'SELECT v::text AS row FROM bets_view v WHERE tenant_id = $1 AND bet_id = $2',
          [second.tenant_id, second.bet_id],
        )
      ).rows[0]!.row;
    const before = await untouched();
    // The other tenant's follower rows: what its (corrupted) row would set them to if they were written.
    const followerRows = async () =>
      (
        await db.pool.query<{ rows: string }>(
          `SELECT (SELECT string_agg(x::text, ';' ORDER BY user_id, currency) FROM user_exposure x WHERE tenant_id = $1) ||
                  (SELECT string_agg(r::text, ';' ORDER BY currency, day) FROM tenant_daily_revenue r WHERE tenant_id = $1)
             AS rows`,
          [second.tenant_id],
        )
      ).rows[0]!.rows;
    const followersBefore = await followerRows();

    const repaired = await runProjector(['repair', '--tenant', String(t1)], env);
    expect(repaired.code).toBe(0);
    expect(JSON.parse(repaired.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      differing: 1,
      rewritten: 1,
    });
    const left = await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO });
    // The named tenant's row is the fold again; the other tenant's is as it was, byte for byte.
    expect(left.map((d) => `${d.tenantId}:${d.betId}`)).toEqual([`${second.tenant_id}:${second.bet_id}`]);
    expect(left.some((d) => d.betId === first.bet_id && d.tenantId === first.tenant_id)).toBe(false);
    expect(await untouched()).toBe(before);
    expect(await followerRows()).toBe(followersBefore);
    const verified = await runProjector(['verify', '--tenant', String(t1)], env);
    expect(verified.code).toBe(0);
  });

  it('--tenant repeats: repair heals the tenants named, verify checks exactly those; bad ids are named', async () => {
    expect((await runProjector(['repair'], env)).code).toBe(0);
    const [t1, t2, t3] = [...new Set(events.map((e) => e.tenantId))].sort((a, b) => a - b) as [
      number,
      number,
      number,
    ];
    const corrupt = (tenant: number) =>
      oneRow(
        `UPDATE bets_view SET payout = coalesce(payout, 0) + 7 WHERE (tenant_id, bet_id) =
           (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1 OFFSET 3)
         RETURNING tenant_id, bet_id`,
        [tenant],
      );
    await corrupt(t1);
    await corrupt(t2);
    const third = await corrupt(t3);

    const named = await runProjector(['verify', '--tenant', `${t3},${t1}`, '--json'], env);
    expect(named.code).toBe(1);
    const found = (JSON.parse(named.stdout) as { bets: Array<{ tenantId: number }> }).bets;
    expect(found.map((b) => b.tenantId).sort()).toEqual([t1, t3].sort());

    const repaired = await runProjector(['repair', '--tenant', String(t1), '--tenant', String(t2)], env);
    expect(repaired.code).toBe(0);
    expect(JSON.parse(repaired.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      differing: 2,
      rewritten: 2,
    });
    const left = await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO });
    expect(left.map((d) => `${d.tenantId}:${d.betId}`)).toEqual([`${third.tenant_id}:${third.bet_id}`]);
    expect((await runProjector(['verify', '--tenant', String(t1), '--tenant', String(t2)], env)).code).toBe(
      0,
    );
    expect((await runProjector(['verify', '--tenant', String(t3)], env)).code).toBe(1);

    const zero = await runProjector(['verify', '--tenant', `${t1},0`], env);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--tenant 0 is out of range');
    const twoForOneBet = await runProjector(['repair', '--tenant', '1', '--tenant', '2', '--bet', 'b'], env);
    expect(twoForOneBet.code).toBe(2);
    expect(twoForOneBet.stderr).toContain('--bet needs exactly one --tenant');
  });

  it('repair --max-events-per-second re-folds no faster than the rate, and heals the same', async () => {
    expect((await runProjector(['repair'], env)).code).toBe(0);
    const tenant = events[0]!.tenantId;
    // Rows taken away (as by a write from outside): their bets lag by every one of their events.
    const { rows } = await db.pool.query<{ events: number }>(
      `WITH gone AS (
         DELETE FROM bets_view WHERE (tenant_id, bet_id) IN
           (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 12)
         RETURNING version)
       SELECT sum(version)::int AS events FROM gone`,
      [tenant],
    );
    const lagging = rows[0]!.events;
    const rate = Math.max(1, Math.floor(lagging / 3));
    const repaired = await runProjector(
      ['repair', '--tenant', String(tenant), '--max-events-per-second', String(rate), '--batch-size', '3'],
      env,
    );
    expect(repaired.code).toBe(0);
    const report = JSON.parse(repaired.stdout.trim().split('\n').at(-1)!) as {
      lagging: number;
      repaired: number;
      throttledMs: number;
    };
    expect(report).toMatchObject({ lagging: 12, repaired: 12 });
    // At `rate` events a second, `lagging` events take about three seconds: most of it waited.
    expect(report.throttledMs).toBeGreaterThan(1_000);
    expect(await reconciler.differingBets(db.pool, { cutoffMs: LONG_AGO, tenantIds: [tenant] })).toEqual([]);
  });
});
