import { throttle } from '../../projections/throttle.js';

/** A clock that moves only when slept on, or when the work "takes" time. */
function fakeClock() {
  let now = 0;
  const slept: number[] = [];
  return {
    clock: { now: () => now, sleep: async (ms: number) => void (slept.push(ms), (now += ms)) },
    work: (ms: number) => void (now += ms),
    slept,
    get now() {
      return now;
    },
  };
}

describe('throttle', () => {
  it('keeps the average at the rate: 1,000 events at 500/s take two seconds whatever the batches', async () => {
    const t = fakeClock();
    const limit = throttle(500, t.clock);
    for (let i = 0; i < 10; i++) {
      t.work(20); // each batch of 100 events takes 20 ms of real work
      await limit.take(100);
    }
    expect(t.now).toBe(2_000);
    expect(limit.waitedMs).toBe(2_000 - 10 * 20);
  });

  it('never waits when the work is slower than the rate, and never without a rate', async () => {
    const slow = fakeClock();
    const limit = throttle(100, slow.clock);
    for (let i = 0; i < 3; i++) {
      slow.work(2_000);
      await limit.take(100);
    }
    expect(slow.slept).toEqual([]);
    const free = fakeClock();
    const none = throttle(undefined, free.clock);
    await none.take(1_000_000);
    expect(free.slept).toEqual([]);
    expect(none.waitedMs).toBe(0);
  });
});
