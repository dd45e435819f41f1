import fc from 'fast-check';
import { flushCapacity, flushWait, maxPending } from '../../consumers/flushSize.js';

const settings = { flushMaxEvents: 100, flushBacklogMaxEvents: 1_000 };

describe('adaptive flush size', () => {
  it('flushes small when the partition is caught up, large when a backlog waits', () => {
    expect(flushCapacity(0, settings)).toBe(100);
    expect(flushCapacity(100, settings)).toBe(100);
    expect(flushCapacity(101, settings)).toBe(1_000);
    expect(flushCapacity(5_000_000, settings)).toBe(1_000);
  });

  it('stays within the configured sizes, and off when both are equal', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (behind, small, extra) => {
          const s = { flushMaxEvents: small, flushBacklogMaxEvents: small + extra };
          const capacity = flushCapacity(behind, s);
          expect(capacity === small || capacity === small + extra).toBe(true);
          expect(flushCapacity(behind, { flushMaxEvents: small, flushBacklogMaxEvents: small })).toBe(small);
          expect(maxPending(capacity, s)).toBeGreaterThanOrEqual(capacity);
        },
      ),
    );
  });

  it('waits a linger when caught up, the interval when the next fetch has more', () => {
    const wait = { flushIntervalMs: 100, flushLingerMs: 5 };
    expect(flushWait(0, wait)).toBe(5);
    expect(flushWait(1, wait)).toBe(100);
    expect(flushWait(5_000, wait)).toBe(100);
  });
});
