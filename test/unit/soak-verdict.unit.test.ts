import { soakVerdict, type SoakSample } from '../../bench/soak.js';

const minutes = (rss: (m: number) => number, p99: (m: number) => number): SoakSample[] =>
  Array.from({ length: 30 }, (_, i) => ({
    minute: i + 1,
    rssFloorMb: rss(i + 1),
    // A peak that swings with the collections is not what is judged.
    rssPeakMb: rss(i + 1) + (i % 3) * 20,
    heapFloorMb: 20,
    heapPeakMb: 20 + (i % 4) * 15,
    eventLoopP99Ms: 5,
    flushMeanMs: 4,
    eventToViewP99Ms: p99(i + 1),
    betsProjected: 1_000,
  }));

describe('the soak verdict', () => {
  it('judges the last two thirds: a warm-up climb before minute 11 is not growth', () => {
    const v = soakVerdict(
      minutes(
        (m) => (m <= 10 ? 60 + 5 * m : 110),
        () => 70,
      ),
    );
    expect(v.fromMinute).toBe(11);
    expect(v.rssGrowthMb).toBe(0);
    expect(v.heapGrowthMb).toBe(0);
    expect([v.eventToViewP99FirstMs, v.eventToViewP99LastMs]).toEqual([70, 70]);
  });

  it('shows a leak of 1 MB a minute as 19 MB over minutes 11–30, whatever the noise, and a drifting p99', () => {
    const v = soakVerdict(
      minutes(
        (m) => 100 + m + (m % 2 ? 3 : -3),
        (m) => 50 + 2 * m,
      ),
    );
    expect(v.rssGrowthMb).toBeGreaterThan(17);
    expect(v.rssGrowthMb).toBeLessThan(21);
    expect(v.eventToViewP99LastMs).toBeGreaterThan(v.eventToViewP99FirstMs + 20);
  });
});
