/**
 * V2 bets in the reducer, by hand-figured rows: the issue's accumulator, a V1 placement read as a
 * bet of one leg, V1 and V2 events mixed within one bet, and the exact product of the legs' odds.
 */
import { multiplyDecimals } from '../../src/events/decimal.js';
import type { BetEvent } from '../../src/events/types.js';
import { foldBet } from '../../projections/bets/reducer.js';

const T0 = 1_790_000_000_000;
const event = (version: number, eventType: string, eventData: object): BetEvent =>
  ({
    tenantId: 7,
    aggregateId: 'bet-1',
    version,
    idempotencyKey: `bet-1-v${version}`,
    eventType,
    eventData,
    timestamp: T0 + version,
  }) as BetEvent;

const accumulator = event(1, 'V2_BET_PLACED', {
  user_id: 'u-1',
  stake: { amount: '12.50', currency: 'EUR' },
  legs: [
    { selection: 'home', odds: '1.85', market: '1X2' },
    { selection: 'over 2.5', odds: '2.1000' },
  ],
  channel: 'mobile',
});

describe('the fold of V2 bets', () => {
  it("reads the issue's accumulator: legs in order, market null where absent, no single odds", () => {
    expect(foldBet([accumulator])).toEqual({
      tenantId: 7,
      betId: 'bet-1',
      idempotencyKey: 'bet-1-v1',
      userId: 'u-1',
      amount: '12.50',
      odds: null,
      selection: null,
      currency: 'EUR',
      legs: [
        { selection: 'home', odds: '1.85', market: '1X2' },
        { selection: 'over 2.5', odds: '2.1000', market: null },
      ],
      legsCount: 2,
      combinedOdds: '3.885000',
      channel: 'mobile',
      status: 'placed',
      payout: null,
      version: 1,
      lastEventType: 'V2_BET_PLACED',
      placedAt: T0 + 1,
      lastUpdatedTimestamp: T0 + 1,
    });
  });

  it('reads V1_BET_PLACED as one leg with no market and no channel, and V1_BET_SETTLED as an outcome', () => {
    const row = foldBet([
      event(1, 'V1_BET_PLACED', {
        user_id: 'u-1',
        amount: '5',
        odds: '2.50',
        selection: 'draw',
        currency: 'GBP',
      }),
      event(2, 'V2_BET_SETTLED', { outcome: 'won', payout: '12.50' }),
    ])!;
    expect(row).toMatchObject({
      odds: '2.50',
      selection: 'draw',
      legs: [{ selection: 'draw', odds: '2.50', market: null }],
      legsCount: 1,
      combinedOdds: '2.50',
      channel: null,
      status: 'won',
      payout: '12.50',
    });
  });

  it('mixes V2 placement with V1 events after it, and settles partially won', () => {
    const row = foldBet([
      accumulator,
      event(2, 'V1_BET_ACCEPTED', {}),
      event(3, 'V2_BET_SETTLED', { outcome: 'partially_won', payout: '8.10' }),
    ])!;
    expect(row).toMatchObject({ status: 'partially_won', payout: '8.10', legsCount: 2, version: 3 });
    const again = foldBet([event(4, 'V1_BET_SETTLED', { result: 'lost', payout: '0' })], row)!;
    expect(again).toMatchObject({ status: 'lost', payout: '0', combinedOdds: '3.885000', version: 4 });
  });

  it('multiplies odds exactly, every digit kept (20 legs of 4 places: 80)', () => {
    expect(multiplyDecimals(['1.85', '2.1000'])).toBe('3.885000');
    expect(multiplyDecimals(['2'])).toBe('2');
    const twenty = multiplyDecimals(Array.from({ length: 20 }, () => '1.0001'));
    expect(twenty.split('.')[1]).toHaveLength(80);
    // (1 + 10^-4)^20 = Σ C(20, k) 10^-4k, exactly (checked with Python's decimal module).
    expect(twenty).toBe('1.00200190114048465507876775325986797847727972597775238761550448451140019000200001');
  });
});
