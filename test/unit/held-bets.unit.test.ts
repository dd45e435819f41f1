/**
 * A bet with a stored event of a type this version does not know (a newer producer's) is held at
 * the last version this version can fold: the fold never claims to be of events it skipped.
 */
import type { BetEvent } from '../../src/events/types.js';
import { foldBet, heldAt } from '../../projections/bets/reducer.js';
import { summarizeLag } from '../../projections/bets/lag.js';

const event = (version: number, eventType: string, eventData: object = {}): BetEvent =>
  ({
    tenantId: 1,
    aggregateId: 'b',
    version,
    idempotencyKey: `b-v${version}`,
    eventType,
    eventData,
    timestamp: 1_790_000_000_000 + version,
  }) as BetEvent;

const stream = [
  event(1, 'V1_BET_PLACED', {
    user_id: 'u',
    amount: '5.0000',
    odds: '2.0000',
    selection: 'home',
    currency: 'EUR',
  }),
  event(2, 'V1_BET_ACCEPTED'),
  event(3, 'V3_BET_SETTLED', { outcome: 'won', payout: '10.00' }),
  event(4, 'V1_BET_CANCELLED', { reason: 'late' }),
];

describe('a bet held at an event type this version does not know', () => {
  it('folds up to the unknown event and no further, whatever follows it', () => {
    const row = foldBet(stream)!;
    expect(row).toMatchObject({ version: 2, status: 'accepted', lastEventType: 'V1_BET_ACCEPTED' });
    expect(heldAt(stream)).toBe(stream[2]);
    // Onto a stored row too: the delivery of 3 and 4 leaves the row where it was.
    expect(foldBet(stream.slice(2), row)).toBe(row);
  });

  it('is not held when every type is known', () => {
    const known = [stream[0]!, stream[1]!, stream[3]!].map((e, i) => ({ ...e, version: i + 1 }));
    expect(heldAt(known)).toBeUndefined();
    expect(foldBet(known)).toMatchObject({ version: 3, status: 'cancelled' });
  });

  it('the lag summary counts held bets by the type that holds them', () => {
    const lagging = (betId: string, heldBy: string | null) => ({
      tenantId: 1,
      betId,
      latestVersion: 4,
      viewVersion: 2,
      lagMs: 10,
      heldBy,
    });
    const summary = summarizeLag([
      lagging('a', 'V3_BET_SETTLED'),
      lagging('b', 'V3_BET_SETTLED'),
      lagging('c', 'V3_BET_BOOSTED'),
      lagging('d', null),
    ]);
    expect(summary.laggingBets).toBe(4);
    expect(summary.held).toEqual({ V3_BET_SETTLED: 2, V3_BET_BOOSTED: 1 });
  });
});
