/**
 * user_exposure on a real database: whatever writes bets_view — worker flushes with duplicates and
 * reordering, immediate mode, re-folds, repairs, racing writers — the table ends equal to
 * the sum over open bets folded from the events (the oracle of test/support/oracle.ts, in exact
 * decimals). Then its check and repair, and what the rebuild leaves.
 */
import fc from 'fast-check';
import { inTransaction } from '../../src/db/pool.js';
import type { BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { seededRandom, simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { rebuildBetsView } from '../../projections/bets/rebuild.js';
import { exposureMismatches, repairExposure } from '../../projections/exposure/index.js';
import {
  betsProjection,
  createProjection,
  inlineProjection,
  reconciler,
  repairFollowers,
} from '../../projections/registry.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import { createTestDatabase, onCitus, truncateReadModels, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';
import { testSeed } from '../support/seed.js';

const T0 = 1_790_000_000_000;
const stream = (events: number): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants: 3, openBets: 25, now: () => T0 }),
];

describe('user_exposure on a real database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  const store = () =>
    createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });

  async function reset(events: readonly BetEvent[]): Promise<void> {
    await truncateReadModels(db.pool);
    for (let i = 0; i < events.length; i += 500) await store().append(events.slice(i, i + 500));
  }

  const flush = async (events: readonly BetEvent[], cache?: RowCache) => {
    const projection = cache ? createProjection({ rowCache: cache }) : betsProjection;
    const result = await inTransaction(db.workerPool, (client) => projection.project(client, events));
    result.afterCommit?.();
  };

  it('counts a bet while it is open and drops it when it settles, is cancelled, rejected or cashed out', async () => {
    // A prefix of the stream: the simulator closes every bet by its end.
    const events = stream(3_000).slice(0, 1_700);
    await reset(events);
    for (let i = 0; i < events.length; i += 100) await flush(events.slice(i, i + 100));
    expect(await viewMismatches(db.pool)).toEqual([]);
    const { rows } = await db.pool.query<{ open: number; closed: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('placed', 'accepted'))::int AS open,
              count(*) FILTER (WHERE status NOT IN ('placed', 'accepted'))::int AS closed FROM bets_view`,
    );
    // The stream both opens and closes bets, so the sum is a real check, not a count of everything.
    expect(rows[0]!.open).toBeGreaterThan(0);
    expect(rows[0]!.closed).toBeGreaterThan(0);
    const total = await db.pool.query<{ n: number }>('SELECT sum(open_bets)::int AS n FROM user_exposure');
    expect(total.rows[0]!.n).toBe(rows[0]!.open);
  });

  it('property: duplicates, reordering, replays, re-folds, immediate mode and repairs never count a bet twice or miss one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        async (s, cacheSize) => {
          const events = stream(900).slice(0, 600);
          await reset(events);
          const random = seededRandom(s);
          const cache = cacheSize > 0 ? new RowCache(cacheSize) : undefined;
          // Deliveries: batches of shuffled slices with duplicates, some of them twice.
          const deliveries: BetEvent[][] = [];
          for (let i = 0; i < events.length;) {
            const n = 1 + Math.floor(random() * 80);
            const batch = events.slice(i, i + n);
            for (const e of batch) if (random() < 0.1) batch.push(e);
            deliveries.push(batch.sort(() => random() - 0.5));
            if (random() < 0.2) deliveries.push([...batch]);
            i += n;
          }
          for (const batch of deliveries) {
            const way = random();
            if (way < 0.1) {
              // Another writer re-folds some of the batch's bets from the store.
              const bets = batch.map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId }));
              await inTransaction(db.workerPool, (client) => betsProjection.refold(client, bets));
            } else if (way < 0.15) {
              const bets = batch.slice(0, 3).map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId }));
              await reconciler.repairBets(db.workerPool, bets, { batchSize: 1 });
            } else {
              await flush(batch, cache);
            }
          }
          // Whatever came first, a last full delivery brings every bet to its latest version.
          for (let i = 0; i < events.length; i += 200) await flush(events.slice(i, i + 200), cache);
          expect(await viewMismatches(db.pool)).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('racing writers on the same bets (worker flushes and re-folds at once) leave it exact', async () => {
    const events = stream(2_000).slice(0, 1_400);
    await reset(events);
    const batches: BetEvent[][] = [];
    for (let i = 0; i < events.length; i += 50) batches.push(events.slice(i, i + 50));
    const bets = events.map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId }));
    await Promise.all(
      [
        (async () => {
          for (const b of batches) await flush(b);
        })(),
        (async () => {
          for (const b of [...batches].reverse()) await flush(b);
        })(),
        (async () => {
          for (let i = 0; i < bets.length; i += 100) {
            await inTransaction(db.workerPool, (client) =>
              betsProjection.refold(client, bets.slice(i, i + 100)),
            );
          }
        })(),
      ].map((p) =>
        p.catch(async (error: unknown) => {
          // Two flushes locking the same users in another order is a deadlock the database breaks;
          // the worker retries it (40P01). Here: run it again, as the worker would.
          if ((error as { code?: string }).code !== '40P01') throw error;
        }),
      ),
    );
    for (const b of batches) await flush(b);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('the check names what differs, repair sets it while readers read, and a rebuilt view is followed', async () => {
    const events = stream(1_500).slice(0, 1_000);
    await reset(events);
    for (let i = 0; i < events.length; i += 250) await flush(events.slice(i, i + 250));
    expect(await exposureMismatches(db.pool)).toEqual([]);
    // Damage: one user's row off by one bet, another row that should not be there.
    const { rows } = await db.pool.query<{ tenant_id: number; user_id: string; currency: string }>(
      'SELECT tenant_id, user_id, currency FROM user_exposure WHERE open_bets > 0 ORDER BY 1, 2, 3 LIMIT 1',
    );
    const victim = rows[0]!;
    await db.pool.query(
      'UPDATE user_exposure SET open_bets = open_bets + 1 WHERE tenant_id = $1 AND user_id = $2 AND currency = $3',
      [victim.tenant_id, victim.user_id, victim.currency],
    );
    await db.pool.query(
      `INSERT INTO user_exposure (tenant_id, user_id, currency, open_bets, open_stake, potential_payout)
       VALUES (1, 'nobody', 'EUR', 2, 10, 25)`,
    );
    const found = await exposureMismatches(db.pool);
    expect(found.map((m) => `${m.tenantId}:${m.userId}:${m.currency}`).sort()).toEqual(
      ['1:nobody:EUR', `${victim.tenant_id}:${victim.user_id}:${victim.currency}`].sort(),
    );
    expect(found.find((m) => m.userId === 'nobody')).toMatchObject({
      expected: { openBets: 0, openStake: '0', potentialPayout: '0' },
      stored: { openBets: 2, openStake: '10.0000', potentialPayout: '25.00000000' },
    });
    // A reader in another session keeps reading while the repair runs.
    const reader = await db.pool.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM user_exposure');
      expect(await repairExposure(db.workerPool)).toBe(2);
      await reader.query('SELECT count(*) FROM user_exposure');
      await reader.query('COMMIT');
    } finally {
      reader.release();
    }
    expect(await exposureMismatches(db.pool)).toEqual([]);
    expect(await repairExposure(db.workerPool)).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);

    // bets_view damaged behind the projector's back, and user_exposure set to match it; then the
    // view is rebuilt from the events: the exposure no longer matches, and the rebuild command's
    // last step (repairExposure) makes it.
    await db.pool.query(
      `UPDATE bets_view SET status = 'won' WHERE (tenant_id, bet_id) IN
         (SELECT tenant_id, bet_id FROM bets_view WHERE status IN ('placed', 'accepted') ORDER BY 1, 2 LIMIT 5)`,
    );
    expect(await repairExposure(db.pool)).toBeGreaterThan(0);
    expect(await exposureMismatches(db.pool)).toEqual([]);
    const report = await rebuildBetsView(db.pool, { chunks: 2 });
    expect(report.swapped).toBe(true);
    expect((await exposureMismatches(db.pool)).length).toBeGreaterThan(0);
    expect(await repairExposure(db.pool)).toBeGreaterThan(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it("a repair beside open flushes: on PostgreSQL it waits for no flush of another tenant; a flush of the rows it changes is kept, and the rows end equal to the events' sum", async () => {
    const all = stream(1_500);
    const events = all.slice(0, 1_000);
    await reset(events);
    for (let i = 0; i < events.length; i += 250) await flush(events.slice(i, i + 250));
    // The next event that closes a bet still open in the view: its flush takes one off its user's row.
    const { rows: open } = await db.pool.query<{ key: string; version: number }>(
      `SELECT tenant_id || ':' || bet_id AS key, version FROM bets_view WHERE status IN ('placed', 'accepted')`,
    );
    const openBets = new Map(open.map((r) => [r.key, r.version]));
    const closing = all
      .slice(1_000)
      .find(
        (e) =>
          openBets.get(`${e.tenantId}:${e.aggregateId}`) === e.version - 1 &&
          e.eventType !== 'V1_BET_ACCEPTED',
      )!;
    expect(closing).toBeDefined();
    await store().append([closing]);
    const { rows: owner } = await db.pool.query<{ user_id: string; currency: string }>(
      'SELECT user_id, currency FROM bets_view WHERE tenant_id = $1 AND bet_id = $2',
      [closing.tenantId, closing.aggregateId],
    );
    const victim = [closing.tenantId, owner[0]!.user_id, owner[0]!.currency];
    // Its user's row off by five bets, which the repair must take back.
    await db.pool.query(
      'UPDATE user_exposure SET open_bets = open_bets + 5 WHERE tenant_id = $1 AND user_id = $2 AND currency = $3',
      victim,
    );
    const flushing = await db.workerPool.connect();
    try {
      await flushing.query('BEGIN');
      await betsProjection.project(flushing, [closing]);
      // The flush holds its rows of both followers, uncommitted. On PostgreSQL another tenant's
      // repair goes through; on Citus the repair holds the tables, so it would wait (sums.ts).
      if (!onCitus()) {
        const other = [...new Set(events.map((e) => e.tenantId))].find((t) => t !== closing.tenantId)!;
        const timedOut = new Promise<'waited'>((resolve) =>
          setTimeout(() => resolve('waited'), 10_000).unref(),
        );
        expect(
          await Promise.race([repairFollowers(db.workerPool, { tenantIds: [other] }), timedOut]),
        ).not.toBe('waited');
      }
      // The flush's own tenant: the repair waits for the flush (for its row on PostgreSQL, for the
      // table on Citus).
      let settled = false;
      const repaired = repairFollowers(db.workerPool, { tenantIds: [closing.tenantId] }).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(settled).toBe(false);
      await flushing.query('COMMIT');
      expect((await repaired)['user_exposure']).toBe(1);
    } finally {
      // After a failed expectation the flush is still open: it must not go back to the pool so.
      await flushing.query('ROLLBACK').catch(() => undefined);
      flushing.release();
    }
    // The row lost the five and the closed bet both: equal to the events' own sum.
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});
