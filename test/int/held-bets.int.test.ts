/**
 * A newer producer ahead of the workers: bet_events holds an event of a type this version does not
 * know (stored at version 3 of an open bet), then a V1_BET_CANCELLED at version 4. The delivery of
 * version 4 must not move the row past the event it cannot read: the bet is held at version 2,
 * counted, listed by lag, left alone by the sweep, and the rebuild holds it too. The other bets go on.
 */
import { sweepOnce } from '../../consumers/sweep.js';
import { inTransaction } from '../../src/db/pool.js';
import type { BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createProjection, rebuildReadModels, reconciler, summarizeLag } from '../../projections/registry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const T0 = 1_790_000_000_000;

function v1(betId: string, version: number, eventType: BetEvent['eventType'], eventData: object): BetEvent {
  return {
    tenantId: 1,
    aggregateId: betId,
    version,
    idempotencyKey: `${betId}-v${version}`,
    eventType,
    eventData,
    timestamp: T0 + version,
  } as BetEvent;
}

const placed = { user_id: 'u-1', amount: '5.0000', odds: '2.0000', selection: 'home', currency: 'EUR' };

describe('a bet held at an event type this version does not know', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  async function row(betId: string) {
    const { rows } = await db.pool.query<{ version: number; status: string }>(
      'SELECT version, status FROM bets_view WHERE tenant_id = 1 AND bet_id = $1',
      [betId],
    );
    return rows[0];
  }

  it('holds the bet at the last version it can fold, counts and lists it; other bets go on', async () => {
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher });
    const held = [v1('held', 1, 'V1_BET_PLACED', placed), v1('held', 2, 'V1_BET_ACCEPTED', {})];
    const other = [v1('other', 1, 'V1_BET_PLACED', placed), v1('other', 2, 'V1_BET_ACCEPTED', {})];
    await store.append([...held, ...other]);
    const projection = createProjection();
    await inTransaction(db.workerPool, (client) => projection.project(client, [...held, ...other]));
    // What a newer producer stores: an event of a type this version does not know, then a V1 one.
    await db.pool.query(
      `INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data,
                               "timestamp", previous_version)
       VALUES (1, 'held', 3, 'held-v3', 'V3_BET_SETTLED', '{"outcome": "won", "payout": "10.00"}', $1, 2),
              (1, 'held', 4, 'held-v4', 'V1_BET_CANCELLED', '{"reason": "late"}', $2, 3)`,
      [T0 + 3, T0 + 4],
    );
    const cancelOther = v1('other', 3, 'V1_BET_CANCELLED', { reason: 'late' });
    await store.append([cancelOther]);

    // The worker gets version 4 of the held bet (version 3 was dead-lettered as not decodable to
    // it) and version 3 of the other: a gap, healed from the store, up to the unknown event.
    const result = await inTransaction(db.workerPool, (client) =>
      projection.project(client, [v1('held', 4, 'V1_BET_CANCELLED', { reason: 'late' }), cancelOther]),
    );
    expect(result.held).toEqual({ V3_BET_SETTLED: 1 });
    expect(await row('held')).toEqual({ version: 2, status: 'accepted' });
    expect(await row('other')).toEqual({ version: 3, status: 'cancelled' });

    const lagging = await reconciler.laggingBets(db.pool);
    expect(lagging).toEqual([
      expect.objectContaining({ betId: 'held', viewVersion: 2, heldBy: 'V3_BET_SETTLED' }),
    ]);
    expect(summarizeLag(lagging).held).toEqual({ V3_BET_SETTLED: 1 });
    // A window that holds only the later, known event still names what holds the bet.
    expect(await reconciler.laggingBets(db.pool, { sinceMs: T0 + 4 })).toEqual([
      expect.objectContaining({ betId: 'held', heldBy: 'V3_BET_SETTLED' }),
    ]);
    // The sweep leaves it alone (a re-fold would change nothing); repair re-folds it to the same row.
    const sweep = { sweepIntervalMs: 1, sweepWindowMs: Date.now() - T0 + 3_600_000, sweepGraceMs: 0 };
    expect(await sweepOnce(db.pool, sweep, reconciler, Date.now())).toEqual({
      ran: true,
      lagging: 0,
      repaired: 0,
    });
    expect(await reconciler.repairBets(db.workerPool, lagging)).toEqual({ bets: 1, rowsWritten: 0 });
    // The followers moved with bets_view only: the held bet is still open for user_exposure.
    const checks = await reconciler.checkFollowers(db.pool);
    for (const check of Object.values(checks)) expect(check.differing).toBe(0);
  });

  it('the rebuild holds it too, and rebuilds everything else', async () => {
    const report = await rebuildReadModels(db.pool, { chunks: 2 });
    expect(report.swapped).toBe(true);
    expect(await row('held')).toEqual({ version: 2, status: 'accepted' });
    expect(await row('other')).toEqual({ version: 3, status: 'cancelled' });
    const copy = await rebuildReadModels(db.pool, { strategy: 'copy', chunks: 2 });
    expect(copy.swapped).toBe(true);
    expect(await row('held')).toEqual({ version: 2, status: 'accepted' });
  });
});
