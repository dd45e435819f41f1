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
  it('forgets the least recently used row beyond its capacity; a hit counts as use', () => {
    const cache = new RowCache(3);
    cache.remember('a', rowOf(1));
    cache.remember('b', rowOf(1));
    cache.remember('c', rowOf(1));
    expect(cache.get('a')?.version).toBe(1); // b is now the least recently used
    cache.remember('d', rowOf(1));
    cache.remember('c', rowOf(2)); // a write counts as use too: a goes next
    cache.remember('e', rowOf(1));
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => cache.get(k)?.version)).toEqual([
      undefined,
      undefined,
      2,
      1,
      1,
    ]);
    expect(cache.size).toBe(3);
  });

  it('never holds more than its capacity, and keeps exactly the most recently used keys', () => {
    const cache = new RowCache(10);
    const recent: string[] = []; // the model: most recent last
    const use = (key: string) => {
      recent.splice(recent.indexOf(key) >>> 0, recent.includes(key) ? 1 : 0);
      recent.push(key);
      if (recent.length > 10) recent.shift();
    };
    for (let i = 0; i < 1_000; i++) {
      cache.remember(`k${i}`, rowOf(1));
      use(`k${i}`);
      const old = `k${i - (i % 13)}`;
      if (i % 3 === 0 && cache.get(old)) use(old);
      if (i % 5 === 0) {
        cache.forget(`k${i - 2}`);
        if (recent.includes(`k${i - 2}`)) recent.splice(recent.indexOf(`k${i - 2}`), 1);
      }
      expect(cache.size).toBe(recent.length);
    }
    expect(recent.every((k) => cache.get(k) !== undefined)).toBe(true);
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
