import { jest } from '@jest/globals';
import {
  silentPartitions,
  stalledPartitions,
  watchForStalls,
  type LogEnds,
  type StalledPartition,
  type WatchedPartition,
} from '../../consumers/stallWatch.js';
import { silentLogger } from '../../src/observability/logger.js';

const STALL = 10_000;
const at = (partition: number, lastDeliveredAt: number, idle = true): WatchedPartition => ({
  partition,
  lastDeliveredAt,
  idle,
});
const ends = (entries: Array<[number, number, number]>) =>
  new Map<number, LogEnds>(entries.map(([p, low, high]) => [p, { low, high }]));

describe('which partitions are stalled', () => {
  it('a partition is silent after the whole timeout, and none is while any flush is in progress', () => {
    const now = 100_000;
    const quiet = [
      at(0, now - STALL), // exactly the timeout
      at(1, now - STALL + 1), // one ms short
    ];
    expect(silentPartitions(quiet, now, STALL).map((p) => p.partition)).toEqual([0]);
    // A flush waiting on the database holds the consumer's next fetch, for every partition.
    expect(silentPartitions([...quiet, at(2, now, false)], now, STALL)).toEqual([]);
  });

  it('is stalled only with messages beyond the checkpoint; never checkpointed starts at the low end', () => {
    const now = 50_000;
    const silent = [at(0, 0), at(1, 0), at(2, 0), at(3, 0), at(4, 0)];
    const stalled = stalledPartitions({
      silent,
      now,
      ends: ends([
        [0, 0, 120], // checkpoint 100: 20 behind
        [1, 0, 100], // checkpoint 100: caught up
        [2, 30, 30], // never checkpointed, retention dropped 0..29: nothing to read
        [3, 30, 45], // never checkpointed: 15 behind the low end
        // 4: the broker did not say (its leader is away): no verdict
      ]),
      checkpoints: new Map([
        [0, 100],
        [1, 100],
      ]),
    });
    expect(stalled).toEqual<StalledPartition[]>([
      { partition: 0, silentMs: 50_000, behind: 20 },
      { partition: 3, silentMs: 50_000, behind: 15 },
    ]);
  });
});

describe('the stall watch', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  async function look(ms: number): Promise<void> {
    await jest.advanceTimersByTimeAsync(ms);
  }

  it('asks the broker only once a partition is silent, and reports a partition left behind', async () => {
    let now = 0;
    let delivered = 0;
    const asked: string[] = [];
    const found: Array<readonly StalledPartition[]> = [];
    const watch = watchForStalls({
      stallMs: STALL,
      intervalMs: 1_000,
      partitions: () => [at(7, delivered)],
      logEnds: async () => (asked.push('ends'), ends([[7, 0, 500]])),
      checkpoints: async () => (asked.push('checkpoints'), new Map([[7, 400]])),
      onStall: (stalled) => found.push(stalled),
      logger: silentLogger,
      now: () => now,
    });
    try {
      for (let i = 0; i < 9; i++) {
        now += 1_000;
        await look(1_000);
      }
      expect(asked).toEqual([]);
      delivered = now; // a batch arrived: quiet starts again
      now += STALL - 1;
      await look(1_000);
      expect(asked).toEqual([]);
      now += 1;
      await look(1_000);
      expect(asked.sort()).toEqual(['checkpoints', 'ends']);
      expect(found).toEqual([[{ partition: 7, silentMs: STALL, behind: 100 }]]);
    } finally {
      watch.stop();
    }
  });

  it('a question that fails is no verdict, and the next look asks again', async () => {
    let now = STALL;
    let brokerUp = false;
    const found: Array<readonly StalledPartition[]> = [];
    const watch = watchForStalls({
      stallMs: STALL,
      intervalMs: 1_000,
      partitions: () => [at(1, 0)],
      logEnds: async () => {
        if (!brokerUp) throw new Error('There is no leader for this topic-partition');
        return ends([[1, 0, 10]]);
      },
      checkpoints: async () => new Map([[1, 3]]),
      onStall: (stalled) => found.push(stalled),
      logger: silentLogger,
      now: () => now,
    });
    try {
      await look(1_000);
      expect(found).toEqual([]);
      brokerUp = true;
      now += 1_000;
      await look(1_000);
      expect(found).toEqual([[{ partition: 1, silentMs: STALL + 1_000, behind: 7 }]]);
    } finally {
      watch.stop();
    }
  });
});
