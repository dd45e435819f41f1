import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../../src/db/pool.js';
import type { FlushResult } from '../../consumers/flush.js';
import { newWorkerStats } from '../../consumers/flushStats.js';
import { progressOf, type ConsumedItem } from '../../consumers/messages.js';
import { createPartitions } from '../../consumers/partitions.js';

const TOPIC = 'bets';

/** `count` messages of the partition from `offset` on (dead letters: the lanes do not look inside). */
function messages(partition: number, count: number, offset = 0): ConsumedItem[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'dead' as const,
    topic: TOPIC,
    partition,
    offset: offset + i,
    key: null,
    payload: null,
    tenantId: null,
    reason: 'test',
  }));
}

/** Waits until the flusher has started `count` flushes. */
async function flushStarted(f: ReturnType<typeof recordingFlusher>, count: number): Promise<void> {
  while (f.flushes.length < count) await sleep(1);
}

/** A flusher that records what each flush carried and, while `hold` is set, waits to be released. */
function recordingFlusher() {
  const flushes: ConsumedItem[][] = [];
  const running = new Set<number>();
  let overlapped = false;
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  let failing = false;
  return {
    flushes,
    /** Two flushes ran at once for one partition. */
    overlapped: () => overlapped,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    /** The next flush fails (after recording what it carried). */
    failNext() {
      failing = true;
    },
    release() {
      gate = undefined;
      release();
    },
    flusher: async (items: readonly ConsumedItem[]): Promise<FlushResult> => {
      const partitions = [...new Set(items.map((i) => i.partition))];
      if (partitions.some((p) => running.has(p))) overlapped = true;
      for (const p of partitions) running.add(p);
      flushes.push([...items]);
      await gate;
      if (failing) {
        failing = false;
        for (const p of partitions) running.delete(p);
        throw new Error('flush failed');
      }
      for (const p of partitions) running.delete(p);
      const progress = progressOf(items);
      return {
        rowsWritten: 0,
        staleEvents: 0,
        refoldedBets: 0,
        events: 0,
        deadLettered: items.length,
        progress,
        checkpoints: new Map(progress.map((p) => [p.partition, 'stored' as const])),
      };
    },
  };
}

function partitionsWith(
  flusher: ReturnType<typeof recordingFlusher>,
  settings: { flushLanes?: number; flushMaxEvents?: number; flushIntervalMs?: number } = {},
) {
  return createPartitions({
    config: {
      topic: TOPIC,
      checkpointName: 'bets_view',
      flushLanes: settings.flushLanes ?? 2,
      flushMaxEvents: settings.flushMaxEvents ?? 100,
      flushBacklogMaxEvents: 1_000,
      flushIntervalMs: settings.flushIntervalMs ?? 5,
      flushLingerMs: 0,
    },
    pool: {} as Pool,
    flusher: flusher.flusher,
    retry: { initialMs: 1, maxMs: 1, maxAttempts: 1 },
    stats: newWorkerStats(),
    commitOffsets: () => Promise.resolve(),
  });
}

/** How many partitions each lane holds. */
function perLane(lanes: ReadonlyMap<number, number>, count: number): number[] {
  const counts = new Array<number>(count).fill(0);
  for (const lane of lanes.values()) counts[lane]!++;
  return counts;
}

describe('flush lanes', () => {
  it('spreads the partitions it meets evenly over the lanes', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f, { flushLanes: 3 });
    const queued = [0, 1, 2, 3, 4, 5, 6].map((p) => partitions.enqueue(p, messages(p, 1), 0).flushed);
    await Promise.all(queued);
    expect(perLane(partitions.lanes, 3)).toEqual([3, 2, 2]);
  });

  it('after a rebalance takes one lane’s partitions away, the partitions left spread over both lanes', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f);
    await Promise.all([0, 1, 2, 3, 4, 5].map((p) => partitions.enqueue(p, messages(p, 1), 0).flushed));
    const laneOfEven = partitions.lanes.get(0);
    expect([2, 4].map((p) => partitions.lanes.get(p))).toEqual([laneOfEven, laneOfEven]);

    partitions.assigned([0, 2, 4]);
    expect([...partitions.lanes.keys()].sort((a, b) => a - b)).toEqual([0, 2, 4]);
    await Promise.all([0, 2, 4].map((p) => partitions.enqueue(p, messages(p, 1, 1), 0).flushed));
    expect(perLane(partitions.lanes, 2).sort()).toEqual([1, 2]);
  });

  it('two partitions left in one lane by a rebalance take one lane each', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f);
    await Promise.all([0, 1, 2, 3].map((p) => partitions.enqueue(p, messages(p, 1), 0).flushed));
    expect(partitions.lanes.get(0)).toBe(partitions.lanes.get(2));
    partitions.assigned([0, 2]);
    await Promise.all([0, 2].map((p) => partitions.enqueue(p, messages(p, 1, 1), 0).flushed));
    expect(perLane(partitions.lanes, 2)).toEqual([1, 1]);
    // Balanced lanes stay as they are.
    const before = new Map(partitions.lanes);
    await Promise.all([0, 2].map((p) => partitions.enqueue(p, messages(p, 1, 2), 0).flushed));
    expect(new Map(partitions.lanes)).toEqual(before);
  });

  it('a partition with a flush in flight keeps its lane, so its flushes never overlap', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f);
    await Promise.all([0, 1, 2, 3, 4, 5].map((p) => partitions.enqueue(p, messages(p, 1), 0).flushed));
    f.hold();
    const started = f.flushes.length;
    const first = partitions.enqueue(0, messages(0, 1, 1), 0).flushed;
    await flushStarted(f, started + 1);
    // Partition 0's lane keeps three partitions and the other none: idle, 0 would move.
    partitions.assigned([0, 2, 4]);
    const lane = partitions.lanes.get(0);
    const second = partitions.enqueue(0, messages(0, 1, 2), 0).flushed;
    expect(partitions.lanes.get(0)).toBe(lane);
    f.release();
    await Promise.all([first, second]);
    expect(f.overlapped()).toBe(false);
    expect(
      f.flushes
        .flat()
        .filter((i) => i.partition === 0)
        .map((i) => i.offset),
    ).toEqual([0, 1, 2]);
  });

  it('a partition no longer assigned gives its lane up once its flush has committed', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f);
    f.hold();
    const flushed = partitions.enqueue(1, messages(1, 1), 0).flushed;
    await flushStarted(f, 1);
    partitions.assigned([0]);
    expect(partitions.lanes.has(1)).toBe(true);
    f.release();
    await flushed;
    expect(partitions.lanes.has(1)).toBe(false);
  });

  it('after a failed flush its partition stays on the failed lane, however unbalanced the lanes', async () => {
    const f = recordingFlusher();
    const partitions = partitionsWith(f);
    await Promise.all([0, 1, 2, 3].map((p) => partitions.enqueue(p, messages(p, 1), 0).flushed));
    f.failNext();
    await expect(partitions.enqueue(0, messages(0, 1, 1), 0).flushed).rejects.toThrow('flush failed');
    // Partition 0's lane keeps both partitions left, the other none.
    partitions.assigned([0, 2]);
    await expect(partitions.enqueue(0, messages(0, 1, 2), 0).flushed).rejects.toThrow('flush failed');
    expect(f.flushes.flat().some((i) => i.partition === 0 && i.offset === 2)).toBe(false);
  });

  it('a lane flushes at the size of its most backlogged partition, whichever batch came last', async () => {
    const f = recordingFlusher();
    // Partitions 0 and 2 share lane 0; 1 takes lane 1.
    const partitions = partitionsWith(f, { flushMaxEvents: 2, flushIntervalMs: 30 });
    const behind = partitions.enqueue(0, messages(0, 5), 5_000);
    partitions.enqueue(1, messages(1, 1), 0);
    const caughtUp = partitions.enqueue(2, messages(2, 5), 0);
    expect(partitions.lanes.get(2)).toBe(partitions.lanes.get(0));
    expect(caughtUp.full).toBe(false);
    await Promise.all([behind.flushed, caughtUp.flushed]);
    // One backlog-sized flush of both partitions' ten events, not flushes of two.
    const lane0 = f.flushes.filter((items) => items.some((i) => i.partition !== 1));
    expect(lane0.map((items) => items.length)).toEqual([10]);
  });
});
