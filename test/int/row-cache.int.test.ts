/**
 * The worker's row cache against real PostgreSQL: it saves the reads it promises to save, a cached
 * row that fell behind the table (another writer got there first) never puts an older row in the
 * view, and the view still equals the fold of the events whatever the deliveries and the other
 * writers do.
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import pg from 'pg';
import { inTransaction } from '../../src/db/pool.js';
import { betKey, type BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import {
  betsProjection,
  createProjection as createBetsProjection,
  inlineProjection,
} from '../../projections/registry.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import { SELECT_ROW_COLUMNS } from '../../projections/bets/columns.js';
import type { Projection, ProjectionResult } from '../../projections/projection.js';
import { createTestDatabase, truncateReadModels, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';
import { testSeed } from '../support/seed.js';

const T0 = 1_790_000_000_000;
const stream = (events: number): BetEvent[] => [
  ...simulateEvents({ seed: testSeed(), events, tenants: 3, openBets: 30, now: () => T0 }),
];

describe('the worker projection row cache on real PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  async function reset(events: readonly BetEvent[]): Promise<void> {
    await truncateReadModels(db.pool);
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    for (let i = 0; i < events.length; i += 500) await store.append(events.slice(i, i + 500));
  }

  /** One flush as the worker does it: project in a transaction, then tell the projection it committed. */
  async function flush(projection: Projection, events: readonly BetEvent[]): Promise<ProjectionResult> {
    const result = await inTransaction(db.workerPool, (client) => projection.project(client, events));
    result.afterCommit?.();
    return result;
  }

  /** How many times `work` read stored bets_view rows. */
  async function rowReads(work: () => Promise<void>): Promise<number> {
    const query = jest.spyOn(pg.Client.prototype, 'query');
    try {
      await work();
      const read = `SELECT ${SELECT_ROW_COLUMNS}\nFROM bets_view\nWHERE`;
      return query.mock.calls.filter((c) => {
        const sent = c[0] as { text?: string } | string | undefined;
        return (typeof sent === 'string' ? sent : (sent?.text ?? '')).startsWith(read);
      }).length;
    } finally {
      query.mockRestore();
    }
  }

  it('reads back neither the rows it committed nor bets delivered from version 1; without a cache it must', async () => {
    const events = stream(1_200);
    const inBatches = async (projection: Projection) => {
      for (let i = 0; i < events.length; i += 100) await flush(projection, events.slice(i, i + 100));
    };
    await reset(events);
    const cached = createBetsProjection({ rowCache: new RowCache(10_000) });
    expect(await rowReads(() => inBatches(cached))).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);

    await reset(events);
    expect(await rowReads(() => inBatches(betsProjection))).toBeGreaterThan(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('a cached row behind the table costs one refused write, counted stale, and is then read again', async () => {
    const events = stream(600);
    const bet = [...new Set(events.map((e) => betKey(e.tenantId, e.aggregateId)))]
      .map((key) => events.filter((e) => betKey(e.tenantId, e.aggregateId) === key))
      .find((b) => b.length >= 3)!;
    const [v1, v2, v3] = bet as [BetEvent, BetEvent, BetEvent];
    await reset(bet);
    const cache = new RowCache(100);
    const cached = createBetsProjection({ rowCache: cache });

    expect((await flush(cached, [v1])).rowsWritten).toBe(1);
    // Another writer (immediate mode, a repair, this bet's next owner after a rebalance) moves on.
    await flush(betsProjection, [v2]);

    let result: ProjectionResult | undefined;
    expect(await rowReads(async () => void (result = await flush(cached, [v2])))).toBe(0);
    expect(result).toMatchObject({ rowsWritten: 0, staleEvents: 1 });
    expect(cache.get(betKey(v1.tenantId, v1.aggregateId))).toBeUndefined();

    expect(await rowReads(async () => void (result = await flush(cached, [v3])))).toBe(1);
    expect(result).toMatchObject({ rowsWritten: 1, staleEvents: 0 });
    expect(cache.get(betKey(v1.tenantId, v1.aggregateId))?.version).toBe(3);

    // A full replay is answered from the cache: stale, unwritten, unread.
    expect(await rowReads(async () => void (result = await flush(cached, [v1, v2, v3])))).toBe(0);
    expect(result).toMatchObject({ rowsWritten: 0, staleEvents: 3 });
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('a delivery from version 1 into a view that is already further is refused and counted stale', async () => {
    const events = stream(400);
    await reset(events);
    for (let i = 0; i < events.length; i += 100) await flush(betsProjection, events.slice(i, i + 100));
    const fresh = createBetsProjection({ rowCache: new RowCache(10_000) });
    let stale = 0;
    let written = 0;
    for (let i = 0; i < events.length; i += 100) {
      const result = await flush(fresh, events.slice(i, i + 100));
      stale += result.staleEvents;
      written += result.rowsWritten;
    }
    expect({ stale, written }).toEqual({ stale: events.length, written: 0 });
  });

  it('view = fold whatever the batches, duplicates, reordering, cache size and other writers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        async (streamSeed, batchSizes, capacity, noise) => {
          const events = [
            ...simulateEvents({ seed: streamSeed, events: 300, tenants: 2, openBets: 15, now: () => T0 }),
          ];
          await reset(events);
          // Deliveries: the stream with some events repeated and neighbours swapped.
          const deliveries = [...events];
          noise.forEach((n, i) => {
            const at = n % deliveries.length;
            if (i % 2 === 0) deliveries.splice(at, 0, deliveries[at]!);
            else if (at + 1 < deliveries.length)
              [deliveries[at], deliveries[at + 1]] = [deliveries[at + 1]!, deliveries[at]!];
          });
          const cached = createBetsProjection({ rowCache: new RowCache(capacity) });
          let offset = 0;
          for (let i = 0; offset < deliveries.length; i++) {
            const size = batchSizes[i % batchSizes.length]!;
            const batch = deliveries.slice(offset, offset + size);
            offset += size;
            await flush(cached, batch);
            // Every third batch another writer projects the next events first.
            if (i % 3 === 1) await flush(betsProjection, deliveries.slice(offset, offset + size));
          }
          expect(await viewMismatches(db.pool)).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  });
});
