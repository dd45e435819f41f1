/**
 * The rebuild's set-based fill (projections/bets/fillStatement.ts) folds in SQL what the reducer
 * folds in Node: for any order of event types after a bet's placement — settled then cancelled,
 * cashed out then settled, two settlements with different payouts — the rebuilt view equals the
 * reducer's fold of the stored events, on PostgreSQL and on Citus.
 */
import fc from 'fast-check';
import { inlineProjection, rebuildReadModels } from '../../projections/registry.js';
import { EVENT_TYPES, type BetEvent, type EventType } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';

const LATER_TYPES = EVENT_TYPES.filter((t) => t !== 'V1_BET_PLACED');

function eventOf(tenantId: number, betId: string, version: number, type: EventType, n: number): BetEvent {
  const base = {
    tenantId,
    aggregateId: betId,
    version,
    idempotencyKey: `${betId}-v${version}`,
    timestamp: 1_000 + n,
  };
  switch (type) {
    case 'V1_BET_PLACED':
      return {
        ...base,
        eventType: type,
        eventData: {
          user_id: `u-${tenantId}-${n % 3}`,
          amount: `${n}.25`,
          odds: '1.5000',
          selection: 'home',
          currency: 'EUR',
        },
      };
    case 'V1_BET_SETTLED':
      return {
        ...base,
        eventType: type,
        eventData: { result: n % 2 ? 'won' : 'void', payout: `${n}.${version}` },
      };
    case 'V1_BET_CASHED_OUT':
      return { ...base, eventType: type, eventData: { payout: `${version}.${n}` } };
    case 'V1_BET_ACCEPTED':
      return { ...base, eventType: type, eventData: {} };
    default:
      return { ...base, eventType: type, eventData: { reason: `r${version}` } };
  }
}

describe("the rebuild's fill folds like the reducer", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  it('for any sequence of event types after the placement', async () => {
    const store = createEventStore({ pool: db.pool, publisher: noPublisher, inline: inlineProjection });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom(...LATER_TYPES), { maxLength: 5 }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (bets) => {
          run++;
          const events = bets.flatMap((later, b) => {
            const tenantId = 1 + (b % 3);
            const betId = `bet-${run}-${b}`;
            return [
              eventOf(tenantId, betId, 1, 'V1_BET_PLACED', b),
              ...later.map((type, i) => eventOf(tenantId, betId, i + 2, type, b + i)),
            ];
          });
          await store.append(events);
          await rebuildReadModels(db.pool);
          expect(await viewMismatches(db.pool)).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  });
});
