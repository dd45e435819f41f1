/**
 * The fold declared once (projections/bets/eventFolds.ts) is the fold of every path: random mixed
 * V1/V2 streams — single bets and accumulators of up to 20 legs, V1 and V2 settlements, any order of
 * later events — are written by immediate mode, then by the worker's projection from deliveries out
 * of order, duplicated and racing in two transactions, then by the rebuild's set-based fill (SQL
 * generated from the declaration) and its copy fill (the reducer): every path leaves the same rows
 * in every read model, and those rows equal this test's own reading of the events (the oracle), on
 * PostgreSQL and on Citus.
 */
import fc from 'fast-check';
import { inTransaction, type Pool } from '../../src/db/pool.js';
import { createProjection, inlineProjection, rebuildReadModels } from '../../projections/registry.js';
import type { BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, truncateReadModels, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';

/** Decimal odds above 1 with 0 to 4 places, as producers send them ("2", "1.85", "2.1000"). */
const oddsArb = fc
  .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 4 }), fc.nat({ max: 9_999 }))
  .map(([whole, places, digits]) => {
    const fraction = String(digits).padStart(4, '0').slice(0, places);
    const odds = places === 0 ? String(whole) : `${whole}.${fraction}`;
    return /^1(\.0*)?$/.test(odds) ? '1.01' : odds;
  })
  // Now and then written with a leading zero, as a producer may ("02.50").
  .chain((odds) => fc.constantFrom(odds, odds, odds, `0${odds}`));

const legArb = fc.record(
  {
    selection: fc.constantFrom('home', 'away', 'draw', 'over 2.5', 'btts'),
    odds: oddsArb,
    market: fc.constantFrom('1X2', 'totals', 'both teams to score'),
  },
  { requiredKeys: ['selection', 'odds'] },
);

const placementArb = fc.oneof(
  fc.record({ kind: fc.constant('v1' as const), odds: oddsArb }),
  fc.record({
    kind: fc.constant('v2' as const),
    legs: fc.array(legArb, { minLength: 1, maxLength: 20 }),
    channel: fc.option(fc.constantFrom('mobile', 'web', 'retail'), { nil: undefined }),
  }),
);

type Later =
  | { type: 'V1_BET_ACCEPTED' | 'V1_BET_REJECTED' | 'V1_BET_CANCELLED' }
  | { type: 'V1_BET_SETTLED'; result: 'won' | 'lost' | 'void' }
  | { type: 'V2_BET_SETTLED'; outcome: 'won' | 'lost' | 'void' | 'partially_won' }
  | { type: 'V1_BET_CASHED_OUT' };

const laterArb: fc.Arbitrary<Later> = fc.oneof(
  fc.record({
    type: fc.constantFrom(
      'V1_BET_ACCEPTED',
      'V1_BET_REJECTED',
      'V1_BET_CANCELLED',
    ) as fc.Arbitrary<'V1_BET_ACCEPTED'>,
  }),
  fc.record({
    type: fc.constant('V1_BET_SETTLED' as const),
    result: fc.constantFrom('won', 'lost', 'void') as fc.Arbitrary<'won'>,
  }),
  fc.record({
    type: fc.constant('V2_BET_SETTLED' as const),
    outcome: fc.constantFrom('won', 'lost', 'void', 'partially_won') as fc.Arbitrary<'won'>,
  }),
  fc.record({ type: fc.constant('V1_BET_CASHED_OUT' as const) }),
);

const betArb = fc.record({ placement: placementArb, later: fc.array(laterArb, { maxLength: 5 }) });

/** A day and a bit apart: revenue's days move with the events. */
const T0 = 1_790_000_000_000;
const HOURS = 3_600_000;

type BetSpec = typeof betArb extends fc.Arbitrary<infer B> ? B : never;

function eventsOf(run: number, b: number, bet: BetSpec): BetEvent[] {
  const tenantId = 1 + (b % 3);
  const betId = `bet-${run}-${b}`;
  const base = (version: number) => ({
    tenantId,
    aggregateId: betId,
    version,
    idempotencyKey: `${betId}-v${version}`,
    timestamp: T0 + b * 7 * HOURS + version * 5 * HOURS,
  });
  const amount = `${1 + b}.${String((b * 37) % 10_000).padStart(4, '0')}`;
  const user = `u-${tenantId}-${b % 2}`;
  const p = bet.placement;
  const placed: BetEvent =
    p.kind === 'v1'
      ? {
          ...base(1),
          eventType: 'V1_BET_PLACED',
          eventData: { user_id: user, amount, odds: p.odds, selection: 'home', currency: 'EUR' },
        }
      : {
          ...base(1),
          eventType: 'V2_BET_PLACED',
          eventData: {
            user_id: user,
            stake: { amount, currency: 'EUR' },
            legs: p.legs,
            ...(p.channel !== undefined && { channel: p.channel }),
          },
        };
  const later = bet.later.map((l, i): BetEvent => {
    const version = i + 2;
    const payout = `${version}.${b % 100}`;
    switch (l.type) {
      case 'V1_BET_SETTLED':
        return { ...base(version), eventType: l.type, eventData: { result: l.result, payout } };
      case 'V2_BET_SETTLED':
        return { ...base(version), eventType: l.type, eventData: { outcome: l.outcome, payout } };
      case 'V1_BET_CASHED_OUT':
        return { ...base(version), eventType: l.type, eventData: { payout } };
      case 'V1_BET_ACCEPTED':
        return { ...base(version), eventType: l.type, eventData: {} };
      default:
        return { ...base(version), eventType: l.type, eventData: { reason: `r${version}` } };
    }
  });
  return [placed, ...later];
}

/** Every read model's rows, as text, without what only says when or after what a row was written. */
async function snapshot(pool: Pool): Promise<unknown[]> {
  // As text: every digit and the scale of each decimal compared, not JavaScript numbers.
  const { rows } = await pool.query<{ t: string; r: string }>(
    `SELECT 'bets_view' AS t, (to_jsonb(v) - ARRAY['projected_at', 'previous_status', 'previous_payout',
              'previous_event_at'])::text AS r FROM bets_view v
     UNION ALL SELECT 'user_exposure', (to_jsonb(x) - ARRAY['version', 'updated_at'])::text
       FROM user_exposure x WHERE open_bets <> 0 OR open_stake <> 0 OR potential_payout <> 0
     UNION ALL SELECT 'tenant_daily_revenue', (to_jsonb(x) - ARRAY['version', 'updated_at'])::text
       FROM tenant_daily_revenue x WHERE turnover <> 0 OR ggr <> 0
     ORDER BY 1, 2`,
  );
  return rows;
}

/** A projection's transaction, retried as the worker retries a flush (a deadlock between racers). */
async function projectRetrying(pool: Pool, events: readonly BetEvent[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await inTransaction(pool, (client) => createProjection().project(client, events));
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 5 || (code !== '40P01' && code !== '40001')) throw error;
    }
  }
}

describe('every path folds mixed V1/V2 streams to the same rows', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  it('immediate mode, the worker (out of order, duplicated, racing), the set fill and the copy fill', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(betArb, { minLength: 1, maxLength: 10 }),
        fc.infiniteStream(fc.nat()),
        async (bets, randomness) => {
          run++;
          const events = bets.flatMap((bet, b) => eventsOf(run, b, bet));
          await truncateReadModels(db.pool);

          // Immediate mode: each event and its read models in one transaction.
          const store = createEventStore({
            pool: db.workerPool,
            publisher: noPublisher,
            inline: inlineProjection,
          });
          await store.append(events, { projection: 'immediate' });
          expect(await viewMismatches(db.pool)).toEqual([]);
          const immediate = await snapshot(db.pool);

          // The worker: deliveries shuffled, some twice, in batches, two of them racing.
          await db.pool.query(`TRUNCATE bets_view, user_exposure, tenant_daily_revenue`);
          const random = randomness[Symbol.iterator]();
          const next = () => random.next().value as number;
          const deliveries = [...events, ...events.filter(() => next() % 3 === 0)]
            .map((e) => ({ e, key: next() }))
            .sort((a, b) => a.key - b.key)
            .map(({ e }) => e);
          const batches: BetEvent[][] = [];
          for (let i = 0; i < deliveries.length;) {
            const size = 1 + (next() % 7);
            batches.push(deliveries.slice(i, i + size));
            i += size;
          }
          for (let i = 0; i < batches.length; i += 2) {
            await Promise.all(batches.slice(i, i + 2).map((batch) => projectRetrying(db.workerPool, batch)));
          }
          // Whatever the racers left behind a gap, a last delivery of every bet's latest event heals.
          const latest = [...new Map(events.map((e) => [`${e.tenantId}:${e.aggregateId}`, e])).values()];
          await projectRetrying(db.workerPool, latest);
          expect(await viewMismatches(db.pool)).toEqual([]);
          expect(await snapshot(db.pool)).toEqual(immediate);

          // The rebuild: the fold in SQL, then the reducer streamed by COPY.
          expect((await rebuildReadModels(db.pool, { chunks: 2 })).swapped).toBe(true);
          expect(await viewMismatches(db.pool)).toEqual([]);
          expect(await snapshot(db.pool)).toEqual(immediate);
          expect((await rebuildReadModels(db.pool, { strategy: 'copy', chunks: 2 })).swapped).toBe(true);
          expect(await snapshot(db.pool)).toEqual(immediate);
        },
      ),
      { numRuns: 12 },
    );
  });
});
