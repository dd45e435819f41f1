import type { BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { deliveredBets, needsStoredRow } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import type { BetRow } from '../../projections/bets/row.js';

const events: BetEvent[] = [
  ...simulateEvents({ seed: 5, events: 200, tenants: 2, openBets: 10, now: () => 1_790_000_000_000 }),
];
const rowOf = (version: number): BetRow => ({ ...foldBet([events[0]!])!, version });

describe('RowCache', () => {
  it('drops the older generation whole when the young one fills; a row in use is carried over', () => {
    const cache = new RowCache(4); // two generations of two
    cache.remember('a', rowOf(1));
    cache.remember('b', rowOf(1));
    cache.remember('c', rowOf(1)); // a and b age
    expect(cache.get('a')?.version).toBe(1); // carried into the young generation
    cache.remember('d', rowOf(1)); // c and a age, b is dropped
    expect(['a', 'b', 'c', 'd'].map((k) => cache.get(k)?.version)).toEqual([1, undefined, 1, 1]);
    expect(cache.size).toBeLessThanOrEqual(4);
  });

  it('never holds more than its capacity', () => {
    const cache = new RowCache(10);
    for (let i = 0; i < 1_000; i++) {
      cache.remember(`k${i}`, rowOf(1));
      if (i % 7 === 0) cache.get(`k${i - 9}`);
      expect(cache.size).toBeLessThanOrEqual(10);
    }
  });

  it('a newer row remembered for an aged key wins', () => {
    const cache = new RowCache(2);
    cache.remember('a', rowOf(1));
    cache.remember('b', rowOf(1)); // a ages
    cache.remember('a', rowOf(2));
    expect(cache.get('a')?.version).toBe(2);
  });

  it('keeps the latest row remembered for a key and drops a forgotten one', () => {
    const cache = new RowCache(10);
    cache.remember('a', rowOf(1));
    cache.remember('a', rowOf(3));
    expect(cache.get('a')?.version).toBe(3);
    cache.forget('a');
    expect(cache.get('a')).toBeUndefined();
  });

  it('with capacity 0 remembers nothing; a bad capacity is refused by name', () => {
    const cache = new RowCache(0);
    cache.remember('a', rowOf(1));
    expect(cache.size).toBe(0);
    expect(() => new RowCache(-1)).toThrow('row cache capacity must be a non-negative integer, got -1');
  });
});

describe('deliveredBets / needsStoredRow', () => {
  it('gives each bet of a batch once, with the lowest version delivered, whatever the order', () => {
    const batch = [...events].reverse();
    const bets = deliveredBets(batch);
    const expected = new Map<string, number>();
    for (const e of events) {
      const key = `${e.tenantId}:${e.aggregateId}`;
      expected.set(key, Math.min(expected.get(key) ?? Infinity, e.version));
    }
    expect(new Map([...bets].map(([k, b]) => [k, b.firstVersion]))).toEqual(expected);
  });

  it('needs the stored row only for a delivery that does not start at version 1', () => {
    expect(needsStoredRow({ tenantId: 1, betId: 'b', firstVersion: 1 })).toBe(false);
    expect(needsStoredRow({ tenantId: 1, betId: 'b', firstVersion: 2 })).toBe(true);
  });
});
