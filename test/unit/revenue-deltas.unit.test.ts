import fc from 'fast-check';
import { revenueDeltas } from '../../projections/revenue/deltas.js';
import type { Transition } from '../../projections/projection.js';

const DAY = 86_400_000;
/** 2026-12-01T00:00:00.000Z */
const D1 = Date.UTC(2026, 11, 1);

const move = (over: Partial<Transition>): Transition => ({
  tenantId: 1,
  betId: 'b',
  userId: 'u1',
  currency: 'EUR',
  amount: '10.0000',
  odds: '2.0000',
  status: 'placed',
  payout: null,
  placedAt: D1,
  eventAt: D1,
  previous: null,
  ...over,
});

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const rows = (transitions: Transition[]) =>
  revenueDeltas(transitions).map((d) => [d.tenantId, d.currency, d.day, d.turnover, d.ggr]);

describe('tenant_daily_revenue deltas from accepted transitions', () => {
  it('counts the stake once, on the placing day, when the row is new', () => {
    expect(rows([move({})])).toEqual([[1, 'EUR', '2026-12-01', '10.0000', '0.0000']]);
    expect(
      rows([move({ status: 'accepted', previous: { status: 'placed', payout: null, eventAt: D1 } })]),
    ).toEqual([]);
  });

  it('adds stake − payout on the closing day for won, lost, cashed out and partially won; nothing for void, cancelled, rejected', () => {
    const closedFrom = (status: string, payout: string | null) =>
      move({
        status,
        payout,
        eventAt: D1 + DAY,
        previous: { status: 'accepted', payout: null, eventAt: D1 },
      });
    expect(rows([closedFrom('won', '25.5000')])).toEqual([[1, 'EUR', '2026-12-02', '0.0000', '-15.5000']]);
    expect(rows([closedFrom('lost', '0.0000')])).toEqual([[1, 'EUR', '2026-12-02', '0.0000', '10.0000']]);
    expect(rows([closedFrom('cashed_out', '4.0001')])).toEqual([
      [1, 'EUR', '2026-12-02', '0.0000', '5.9999'],
    ]);
    expect(rows([closedFrom('partially_won', '12.0000')])).toEqual([
      [1, 'EUR', '2026-12-02', '0.0000', '-2.0000'],
    ]);
    for (const status of ['void', 'cancelled', 'rejected'])
      expect(rows([closedFrom(status, '10.0000')])).toEqual([]);
  });

  it('a bet placed and closed in one write counts both, each on its own day', () => {
    expect(rows([move({ status: 'lost', payout: '0.0000', placedAt: D1 - 1, eventAt: D1 })])).toEqual([
      [1, 'EUR', '2026-11-30', '10.0000', '0.0000'],
      [1, 'EUR', '2026-12-01', '0.0000', '10.0000'],
    ]);
  });

  it('a later move takes back what the closed bet added on its earlier closing day', () => {
    const wonOnDay2 = { status: 'won', payout: '30.0000', eventAt: D1 + DAY };
    expect(
      rows([move({ status: 'lost', payout: '0.0000', eventAt: D1 + 2 * DAY, previous: wonOnDay2 })]),
    ).toEqual([
      [1, 'EUR', '2026-12-02', '0.0000', '20.0000'],
      [1, 'EUR', '2026-12-03', '0.0000', '10.0000'],
    ]);
    expect(
      rows([move({ status: 'cancelled', eventAt: D1 + 2 * DAY, payout: '30.0000', previous: wonOnDay2 })]),
    ).toEqual([[1, 'EUR', '2026-12-02', '0.0000', '20.0000']]);
  });

  it("property: the deltas of a bet's successive writes sum to what its last row counts", () => {
    const statuses = [
      'placed',
      'accepted',
      'won',
      'lost',
      'void',
      'cancelled',
      'cashed_out',
      'partially_won',
    ];
    const closes = new Set(['won', 'lost', 'cashed_out', 'partially_won']);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            status: fc.constantFrom(...statuses),
            payout: fc.integer({ min: 0, max: 99_999 }),
            days: fc.integer({ min: 0, max: 5 }),
          }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (steps) => {
          // The rows a bet goes through, one write each, and the transitions between them.
          const states = steps.map((s, i) => ({
            status: i === 0 ? 'placed' : s.status,
            payout: `${s.payout}.0000`,
            eventAt: D1 + s.days * DAY + i,
          }));
          const transitions = states.map((s, i) =>
            move({ ...s, previous: i === 0 ? null : { ...states[i - 1]! } }),
          );
          const total = new Map<string, bigint>();
          for (const d of revenueDeltas(transitions)) {
            const key = `${d.day} turnover`;
            total.set(key, (total.get(key) ?? 0n) + BigInt(d.turnover.replace('.', '')));
            const g = `${d.day} ggr`;
            total.set(g, (total.get(g) ?? 0n) + BigInt(d.ggr.replace('.', '')));
          }
          const last = states.at(-1)!;
          const want = new Map<string, bigint>([[`${utcDay(D1)} turnover`, 100_000n]]);
          if (closes.has(last.status)) {
            const g = `${utcDay(last.eventAt)} ggr`;
            want.set(g, 100_000n - BigInt(last.payout.replace('.', '')));
          }
          for (const [key, value] of total) if (value === 0n) total.delete(key);
          for (const [key, value] of want) if (value === 0n) want.delete(key);
          expect(total).toEqual(want);
        },
      ),
    );
  });

  it('leaves out a transition without currency or stake', () => {
    expect(rows([move({ currency: null }), move({ amount: null })])).toEqual([]);
  });
});
