import fc from 'fast-check';
import { betKey, type BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { decideBet, groupByBet, planBatch } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import type { BetRow } from '../../projections/bets/row.js';

const history = (seed: number, events: number, openBets: number): BetEvent[] => [
  ...simulateEvents({ seed, events, tenants: 3, openBets, now: () => 1_790_000_000_000 + events }),
];

/** The ordered fold of every bet: what the view must equal at rest. */
function expectedView(store: readonly BetEvent[]): Map<string, BetRow> {
  const view = new Map<string, BetRow>();
  for (const [key, events] of groupByBet(store)) view.set(key, foldBet(events)!);
  return view;
}

/**
 * The worker's flush, without I/O: plan against the current view, re-fold gapped bets from the
 * store, write with the version guard.
 */
function project(store: readonly BetEvent[], deliveries: readonly BetEvent[], batchSizes: readonly number[]) {
  const byBet = groupByBet(store);
  const view = new Map<string, BetRow>();
  let offset = 0;
  let i = 0;
  while (offset < deliveries.length) {
    const size = batchSizes[i++ % batchSizes.length] ?? 1;
    const batch = deliveries.slice(offset, offset + size);
    offset += size;
    const plan = planBatch(batch, view);
    const healed = plan.refold.map((b) => foldBet(byBet.get(betKey(b.tenantId, b.betId)) ?? [])!);
    const written = [...plan.rows, ...healed];
    const keys = written.map((r) => betKey(r.tenantId, r.betId));
    // One statement must never touch the same row twice (Citus refuses it).
    expect(new Set(keys).size).toBe(keys.length);
    for (const row of written) {
      const key = betKey(row.tenantId, row.betId);
      const current = view.get(key);
      if (!current || current.version < row.version) view.set(key, row);
    }
  }
  return view;
}

describe('the bets fold under hostile delivery', () => {
  const scenario = fc
    .record({
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      events: fc.integer({ min: 1, max: 80 }),
      openBets: fc.integer({ min: 1, max: 10 }),
      batchSizes: fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 6 }),
      duplicateEvery: fc.integer({ min: 0, max: 5 }),
    })
    .chain((s) =>
      fc.record({
        s: fc.constant(s),
        order: fc.array(fc.nat(), { minLength: s.events * 2, maxLength: s.events * 2 }),
      }),
    );

  it('any duplication, reordering and batch split gives the ordered fold', () => {
    fc.assert(
      fc.property(scenario, ({ s, order }) => {
        const store = history(s.seed, s.events, s.openBets);
        const copies = s.duplicateEvery === 0 ? [] : store.filter((_, i) => i % s.duplicateEvery === 0);
        const deliveries = [...store, ...copies]
          .map((event, i) => ({ event, rank: order[i] ?? 0, i }))
          .sort((a, b) => a.rank - b.rank || a.i - b.i)
          .map((d) => d.event);
        expect(project(store, deliveries, s.batchSizes)).toEqual(expectedView(store));
      }),
      { numRuns: 300 },
    );
  });

  it('in-order delivery never needs the event store', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 30 }), (seed, size) => {
        const store = history(seed, 60, 5);
        const view = new Map<string, BetRow>();
        for (let i = 0; i < store.length; i += size) {
          const plan = planBatch(store.slice(i, i + size), view);
          expect(plan.refold).toEqual([]);
          for (const row of plan.rows) view.set(betKey(row.tenantId, row.betId), row);
        }
        expect(view).toEqual(expectedView(store));
      }),
    );
  });
});

describe('decideBet', () => {
  const [placed, accepted, settled] = history(1, 200, 1).filter(
    (e, _, all) => e.aggregateId === all[0]!.aggregateId,
  );
  const storedAfterPlaced = foldBet([placed!])!;

  it('extends the stored row with contiguous events', () => {
    const decision = decideBet(storedAfterPlaced, [accepted!, settled!]);
    expect(decision).toEqual({ kind: 'apply', row: foldBet([placed!, accepted!, settled!]), skipped: 0 });
  });

  it('skips what the view already has', () => {
    expect(decideBet(foldBet([placed!, accepted!]), [placed!, accepted!])).toEqual({
      kind: 'stale',
      skipped: 2,
    });
  });

  it('asks for a re-fold when the first new event is not stored version + 1', () => {
    expect(decideBet(storedAfterPlaced, [settled!])).toEqual({
      kind: 'refold',
      bet: { tenantId: placed!.tenantId, betId: placed!.aggregateId },
    });
    expect(decideBet(undefined, [accepted!]).kind).toBe('refold');
  });

  it('keeps fields from earlier events that later events do not carry', () => {
    const row = foldBet([placed!, accepted!, settled!])!;
    expect(row.amount).toBe((placed!.eventData as { amount: string }).amount);
    expect(row.placedAt).toBe(placed!.timestamp);
    expect(row.idempotencyKey).toBe(placed!.idempotencyKey);
    expect(row.version).toBe(settled!.version);
  });
});
