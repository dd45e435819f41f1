import { noPublisher } from '../../src/kafka/publisher.js';
import { ConcurrencyConflictError, createEventStore } from '../../src/store/eventStore.js';
import type { BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { inlineProjection } from '../../projections/registry.js';
import { createTestDatabase, onCitus, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';
import { testSeed } from '../support/seed.js';

const T0 = 1_790_000_000_000;
const stream = (events: number, tenants: number, seedOffset: number): BetEvent[] => [
  ...simulateEvents({ seed: testSeed() + seedOffset, events, tenants, openBets: 40, now: () => T0 }),
];

/** How many transactions inserted these events: the distinct xmin of their rows, the database's own record. */
async function insertingTransactions(db: TestDatabase, events: readonly BetEvent[]): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(DISTINCT xmin::text)::int AS n FROM bet_events WHERE idempotency_key = ANY($1)',
    [events.map((e) => e.idempotencyKey)],
  );
  return rows[0]!.n;
}

/** The nodes holding bet_events' rows: 1 on PostgreSQL, the worker nodes on Citus. */
async function dataNodes(db: TestDatabase): Promise<number> {
  if (!onCitus()) return 1;
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM citus_get_active_worker_nodes()',
  );
  return rows[0]!.n;
}

describe(`concurrent appends sharing transactions on real ${onCitus() ? 'Citus' : 'PostgreSQL'}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  /** One transaction at a time, so appends arriving while it runs wait together. */
  const oneTransactionAtATime = () =>
    createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
      groupCommit: { maxTransactions: 1, maxEvents: 1_000 },
    });

  it('32 callers appending at once in immediate mode share a few transactions; each hears of its own events, and the views equal the fold', async () => {
    const store = oneTransactionAtATime();
    // Each caller its own bets, a whole bet's events per append.
    const byBet = new Map<string, BetEvent[]>();
    for (const e of stream(400, 4, 0)) {
      const key = `${e.tenantId}:${e.aggregateId}`;
      byBet.set(key, [...(byBet.get(key) ?? []), e]);
    }
    const appends = [...byBet.values()].slice(0, 32);
    expect(appends).toHaveLength(32);
    const results = await Promise.all(
      appends.map((events) => store.append(events, { projection: 'immediate' })),
    );
    for (const [i, result] of results.entries()) {
      expect(result.appended).toEqual(appends[i]);
      expect(result.duplicates).toEqual([]);
    }
    // The first went alone; the 31 that waited for it went together. On Citus each node a
    // transaction touched gives its rows a local transaction id of its own.
    const nodes = await dataNodes(db);
    if (nodes === 1) expect(await insertingTransactions(db, appends.flat())).toBe(2);
    else expect(await insertingTransactions(db, appends.flat())).toBeLessThanOrEqual(2 * nodes);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('two callers claiming one idempotency key for different bets at once: one is stored, the other is told it is a duplicate, and its bet gets no view row', async () => {
    const store = oneTransactionAtATime();
    const placements = stream(300, 1, 2).filter((e) => e.version === 1);
    const [blocker, claimed, other] = placements;
    const sameKey = { ...other!, idempotencyKey: claimed!.idempotencyKey };
    // The blocker goes alone; the two claimants arrive while it is in flight.
    const [, first, second] = await Promise.all([
      store.append([blocker!], { projection: 'immediate' }),
      store.append([claimed!], { projection: 'immediate' }),
      store.append([sameKey], { projection: 'immediate' }),
    ]);
    expect(first.appended).toEqual([claimed]);
    expect(second.appended).toEqual([]);
    expect(second.duplicates).toEqual([sameKey]);
    const { rows } = await db.pool.query(
      'SELECT bet_id FROM bets_view WHERE tenant_id = $1 AND bet_id = ANY($2)',
      [claimed!.tenantId, [claimed!.aggregateId, other!.aggregateId]],
    );
    expect(rows).toEqual([{ bet_id: claimed!.aggregateId }]);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it("one caller's conflict and another's missing predecessor in a shared transaction fail those callers alone: the others are stored, once", async () => {
    const store = oneTransactionAtATime();
    const events = stream(600, 3, 1);
    const bets = [...new Set(events.map((e) => e.aggregateId))];
    const of = (bet: string) => events.filter((e) => e.aggregateId === bet);
    const [taken, gapped, ...others] = bets.filter((b) => of(b).length >= 3);
    await store.append([of(taken!)[0]!], { projection: 'immediate' });
    // Version 1 of `taken` again under another key: the version is taken. `gapped` from version 2:
    // its version 1 is not stored.
    const conflicting = { ...of(taken!)[0]!, idempotencyKey: 'another-key' };
    const healthy = others.slice(0, 6).map((b) => of(b));
    const first = healthy.shift()!;
    const settled = await Promise.allSettled([
      store.append(first, { projection: 'immediate' }),
      store.append(healthy[0]!, { projection: 'immediate' }),
      store.append([conflicting], { projection: 'immediate' }),
      store.append(healthy[1]!, { projection: 'immediate' }),
      store.append(of(gapped!).slice(1, 2), { projection: 'immediate' }),
      ...healthy.slice(2).map((e) => store.append(e, { projection: 'immediate' })),
    ]);
    const [conflicted, missing] = [settled[2], settled[4]];
    expect(conflicted.status).toBe('rejected');
    expect((conflicted as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyConflictError);
    expect(String((conflicted as PromiseRejectedResult).reason)).toContain(
      `bet ${taken} of tenant ${conflicting.tenantId} version 1`,
    );
    expect(missing.status).toBe('rejected');
    expect(String((missing as PromiseRejectedResult).reason)).toMatch(
      new RegExp(`bet ${gapped} .*version 2 cannot be appended: version 1 is not stored`),
    );
    const fulfilled = settled.filter((s) => s.status === 'fulfilled');
    expect(fulfilled).toHaveLength(6);
    const stored = [first, ...healthy].flat();
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM bet_events WHERE idempotency_key = ANY($1)',
      [stored.map((e) => e.idempotencyKey)],
    );
    expect(rows[0]!.n).toBe(stored.length);
    const { rows: refused } = await db.pool.query(
      'SELECT 1 FROM bet_events WHERE idempotency_key = ANY($1)',
      [['another-key', of(gapped!)[1]!.idempotencyKey]],
    );
    expect(refused).toEqual([]);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});
