// The module system is ESM on purpose: p-limit 7 is ESM-only and fast-check 4 is ESM-first.
// This test fails if Jest's loader cannot load either of them in this project's setup.
import fc from 'fast-check';
import pLimit from 'p-limit';

describe('ESM-only dependencies load under Jest', () => {
  it('runs p-limit with bounded concurrency and fast-check properties', async () => {
    const limit = pLimit(2);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await Promise.all(Array.from({ length: 6 }, () => limit(task)));
    expect(peak).toBe(2);
    // fast-check runs properties: it shrinks a false one to its smallest counterexample.
    expect(() => fc.assert(fc.property(fc.integer(), (n) => n < 100))).toThrow(/Counterexample: \[100\]/);
  });
});
