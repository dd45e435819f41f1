/**
 * tenant_daily_revenue on a real database: stakes on the day a bet was placed, stake − payout on
 * the day it closed, taken back when a later event moves a closed bet elsewhere; exact whichever
 * path wrote bets_view (immediate mode, the worker's flush, a re-fold) and held to the oracle of
 * test/support/oracle.ts, which reads the events itself. Then its check and repair.
 */
import type { BetEvent } from '../../src/events/types.js';
import { inTransaction } from '../../src/db/pool.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import {
  betsProjection,
  createProjection,
  inlineProjection,
  reconciler,
} from '../../projections/registry.js';
import { revenueFollower } from '../../projections/revenue/index.js';
import { createTestDatabase, truncateReadModels, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';

const DAY = 86_400_000;
/** 2026-12-01T23:59:59.999Z: one millisecond before the next UTC day. */
const D1 = Date.UTC(2026, 11, 1, 23, 59, 59, 999);

function bet(
  tenantId: number,
  id: string,
  steps: ReadonlyArray<[BetEvent['eventType'], object, number]>,
): BetEvent[] {
  return steps.map(([eventType, eventData, timestamp], i) => ({
    tenantId,
    aggregateId: id,
    version: i + 1,
    idempotencyKey: `${id}-v${i + 1}`,
    eventType,
    eventData,
    timestamp,
  })) as BetEvent[];
}

const placed = (amount: string, currency = 'EUR') => ({
  user_id: 'u-1',
  amount,
  odds: '2.5000',
  selection: 'home',
  currency,
});

/** Every sequence of the contract that moves revenue, across UTC day boundaries. */
const EVENTS: BetEvent[] = [
  // Won on day 2, settled again as lost on day 3, cancelled on day 4: days 2 and 3 give back.
  ...bet(1, 'resettled', [
    ['V1_BET_PLACED', placed('10.0000'), D1],
    ['V1_BET_ACCEPTED', {}, D1 + 1],
    ['V1_BET_SETTLED', { result: 'won', payout: '25.0000' }, D1 + DAY],
    ['V1_BET_SETTLED', { result: 'lost', payout: '0.0000' }, D1 + 2 * DAY],
    ['V1_BET_CANCELLED', { reason: 'void market' }, D1 + 3 * DAY],
  ]),
  // Lost the same day it was placed.
  ...bet(1, 'lost', [
    ['V1_BET_PLACED', placed('3.3333'), D1 - 5],
    ['V1_BET_SETTLED', { result: 'lost', payout: '0.0000' }, D1],
  ]),
  // Cashed out on day 2 for less than the stake.
  ...bet(1, 'cashed', [
    ['V1_BET_PLACED', placed('7.0001'), D1],
    ['V1_BET_CASHED_OUT', { payout: '4.5000' }, D1 + 1],
  ]),
  // Void and rejected: turnover only.
  ...bet(1, 'void', [
    ['V1_BET_PLACED', placed('1.0000'), D1 + 1],
    ['V1_BET_SETTLED', { result: 'void', payout: '1.0000' }, D1 + 2],
  ]),
  ...bet(1, 'rejected', [
    ['V1_BET_PLACED', placed('2.0000', 'USD'), D1],
    ['V1_BET_REJECTED', { reason: 'limit' }, D1 + 1],
  ]),
  // Another tenant, open.
  ...bet(2, 'open', [['V1_BET_PLACED', placed('5.5000'), D1]]),
];

/**
 * The table as figured by hand from EVENTS (day 1 = 2026-12-01): day 1 takes the stakes of
 * resettled, lost and cashed (10 + 3.3333 + 7.0001) and lost's 3.3333; day 2 void's stake and
 * cashed's 7.0001 − 4.5; day 3 what resettled added as lost and took back when cancelled (day 2's
 * win it took back when settled again).
 */
const BY_HAND = [
  { tenant_id: 1, currency: 'EUR', day: '2026-12-01', turnover: '20.3334', ggr: '3.3333' },
  { tenant_id: 1, currency: 'EUR', day: '2026-12-02', turnover: '1.0000', ggr: '2.5001' },
  { tenant_id: 1, currency: 'EUR', day: '2026-12-03', turnover: '0.0000', ggr: '0.0000' },
  { tenant_id: 1, currency: 'USD', day: '2026-12-01', turnover: '2.0000', ggr: '0.0000' },
  { tenant_id: 2, currency: 'EUR', day: '2026-12-01', turnover: '5.5000', ggr: '0.0000' },
];

describe('tenant_daily_revenue on a real database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  async function table(): Promise<Array<(typeof BY_HAND)[number]>> {
    const { rows } = await db.pool.query<(typeof BY_HAND)[number]>(
      `SELECT tenant_id::int AS tenant_id, currency, day::text AS day, turnover::text AS turnover, ggr::text AS ggr
         FROM tenant_daily_revenue ORDER BY 1, 2, 3`,
    );
    return rows;
  }

  it('immediate mode, one event per append: each move lands on its day, and later moves take back earlier ones', async () => {
    await truncateReadModels(db.pool);
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    const byTime = [...EVENTS].sort((a, b) => a.version - b.version || a.timestamp - b.timestamp);
    for (const e of byTime) await store.append([e], { projection: 'immediate' });
    expect(await table()).toEqual(BY_HAND);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('one flush of every event, then replays and a re-fold: the same table', async () => {
    await truncateReadModels(db.pool);
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher });
    await store.append(EVENTS);
    const projection = createProjection();
    await inTransaction(db.workerPool, (client) => projection.project(client, EVENTS));
    await inTransaction(db.workerPool, (client) => projection.project(client, EVENTS.slice(2)));
    const bets = [...new Map(EVENTS.map((e) => [`${e.tenantId}:${e.aggregateId}`, e])).values()];
    await inTransaction(db.workerPool, (client) =>
      betsProjection.refold(
        client,
        bets.map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId })),
      ),
    );
    // Only the rows that ever moved are there: not day 3, as one flush folded past it.
    expect(await table()).toEqual(BY_HAND.filter((r) => r.day !== '2026-12-03'));
    expect(await viewMismatches(db.pool)).toEqual([]);
  });

  it('the check names a row that differs and repair sets it, while the other rows are left alone', async () => {
    await db.pool.query(
      "UPDATE tenant_daily_revenue SET ggr = ggr + 1 WHERE tenant_id = 1 AND currency = 'EUR' AND day = '2026-12-02'",
    );
    await db.pool.query('DELETE FROM tenant_daily_revenue WHERE tenant_id = 2');
    const check = await revenueFollower.check(db.workerPool);
    expect(check.differing).toBe(2);
    expect(check.sample).toEqual([
      expect.objectContaining({
        tenant: 1,
        currency: 'EUR',
        day: '2026-12-02',
        ggr: '3.5001',
        'expected ggr': '2.5001',
      }),
      expect.objectContaining({
        tenant: 2,
        currency: 'EUR',
        day: '2026-12-01',
        turnover: '0',
        'expected turnover': '5.5000',
      }),
    ]);
    expect(await reconciler.repairFollowers(db.workerPool)).toMatchObject({ tenant_daily_revenue: 2 });
    expect((await revenueFollower.check(db.workerPool)).differing).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});
