import fc from 'fast-check';
import { fromUnits, toUnits } from '../../src/events/decimal.js';
import { exposureDeltas } from '../../projections/exposure/deltas.js';
import type { Transition } from '../../projections/projection.js';

/** A transition; `previousStatus` stands for a row that was there before, with that status. */
const bet = ({
  previousStatus = null,
  ...over
}: Partial<Transition> & { previousStatus?: string | null }): Transition => ({
  tenantId: 1,
  betId: 'b',
  userId: 'u1',
  currency: 'EUR',
  amount: '10.5000',
  odds: '2.1000',
  status: 'placed',
  payout: null,
  placedAt: 1_790_000_000_000,
  eventAt: 1_790_000_000_000,
  previous:
    previousStatus === null ? null : { status: previousStatus, payout: null, eventAt: 1_789_999_000_000 },
  ...over,
});

describe('exact decimal units', () => {
  it('round-trips any amount at its scale, negative ones too', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: 0, max: 8 }),
        (units, scale) => {
          expect(toUnits(fromUnits(units, scale), scale)).toBe(units);
        },
      ),
    );
    expect(toUnits('12.5', 4)).toBe(125_000n);
    expect(fromUnits(-5n, 4)).toBe('-0.0005');
  });

  it('refuses more digits after the point than the scale instead of rounding, naming the value', () => {
    expect(() => toUnits('1.23456', 4)).toThrow('"1.23456" is not a decimal with at most 4 digits');
    expect(toUnits('1.23450', 4)).toBe(12_345n);
    expect(() => toUnits('12,5', 4)).toThrow('"12,5"');
  });
});

describe('user_exposure deltas from accepted transitions', () => {
  it('adds a bet that became open and removes one that stopped being open, exactly', () => {
    const deltas = exposureDeltas([
      bet({ betId: 'new' }),
      bet({ betId: 'settled', status: 'won', previousStatus: 'accepted', amount: '3.0000', odds: '1.3333' }),
    ]);
    expect(deltas).toEqual([
      {
        tenantId: 1,
        userId: 'u1',
        currency: 'EUR',
        openBets: 0,
        openStake: '7.5000',
        // 10.5 × 2.1 − 3 × 1.3333 = 22.05 − 3.9999
        potentialPayout: '18.05010000',
      },
    ]);
  });

  it('leaves out what moved nothing: open to open, closed to closed, no user or currency', () => {
    expect(
      exposureDeltas([
        bet({ status: 'accepted', previousStatus: 'placed' }),
        bet({ status: 'won', previousStatus: null }),
        bet({ status: 'cancelled', previousStatus: 'won' }),
        bet({ userId: null }),
        bet({ currency: null }),
      ]),
    ).toEqual([]);
  });

  it('one delta per tenant, user and currency, in key order, summing every transition of the key', () => {
    const deltas = exposureDeltas([
      bet({ tenantId: 2, userId: 'a' }),
      bet({ tenantId: 1, userId: 'b', currency: 'USD' }),
      bet({ tenantId: 1, userId: 'b', currency: 'EUR', amount: '1.0000', odds: '1.5000' }),
      bet({ tenantId: 1, userId: 'b', currency: 'EUR', amount: '2.0000', odds: '3.0000' }),
    ]);
    expect(
      deltas.map((d) => [d.tenantId, d.userId, d.currency, d.openBets, d.openStake, d.potentialPayout]),
    ).toEqual([
      [1, 'b', 'EUR', 2, '3.0000', '7.50000000'],
      [1, 'b', 'USD', 1, '10.5000', '22.05000000'],
      [2, 'a', 'EUR', 1, '10.5000', '22.05000000'],
    ]);
  });
});
