/**
 * What the worker keeps per partition: the lane it flushes in, how far behind the broker it is,
 * and the next offset known to be applied (the DB checkpoint, then its own flushes). A flush
 * commits the batch in one transaction, then — only then — its Kafka offsets.
 *
 * A lane is a BatchBuffer whose flushes are ordered. The worker has FLUSH_LANES of them, flushing
 * in parallel on separate connections. Fewer lanes than partitions means fewer, larger
 * transactions while the worker is caught up: each transaction has a fixed cost in the database
 * and a commit to wait for (docs/benchmarks.md). A flush carries the events of the lane's
 * partitions and a checkpoint for each. A bet always lives in one partition, so parallel flushes
 * never race on a row.
 *
 * A partition is given the lane holding the fewest partitions. It keeps that lane while anything
 * of it is buffered or flushing, so its flushes stay ordered; once nothing is, it may move to a
 * lane with at least two fewer partitions, and a partition no longer assigned gives its lane up.
 * So after a rebalance takes partitions away, the ones left spread over the lanes again. A lane's
 * flush size and wait follow the largest backlog among its partitions.
 */
import type { Pool } from '../src/db/pool.js';
import { withRetry, type RetryPolicy } from '../src/errors.js';
import type { Metrics } from '../src/observability/metrics.js';
import { BatchBuffer } from './batchBuffer.js';
import { loadCheckpoint } from './checkpoints.js';
import type { Flusher, FlushResult } from './flush.js';
import {
  flushCapacity,
  flushWait,
  maxPending,
  type FlushSizeSettings,
  type FlushWaitSettings,
} from './flushSize.js';
import { recordFlush, type WorkerStats } from './flushStats.js';
import type { ConsumedItem } from './messages.js';

export type OffsetCommitter = (
  offsets: Array<{ topic: string; partition: number; offset: string }>,
) => Promise<void>;

export interface Queued {
  /** Settles once the flush holding the batch's last event has committed. */
  readonly flushed: Promise<void>;
  /** The lane holds more than it may run ahead of its flushes: the fetch loop should wait. */
  readonly full: boolean;
}

export interface Partitions {
  /**
   * Queues a fetched batch in the partition's lane. `behind`: messages of the partition the
   * broker holds beyond the batch.
   */
  enqueue(partition: number, items: readonly ConsumedItem[], behind: number): Queued;
  /** The next offset the view already holds for the partition (asks the DB checkpoint once). */
  appliedOffset(partition: number): Promise<number>;
  /** Nothing of the partition's lane buffered or flushing (another partition's flush counts). */
  idle(partition: number): boolean;
  /**
   * After a rebalance: the partitions now assigned. Checkpoints are read again, and a partition
   * no longer assigned gives its lane up once nothing of it is in flight.
   */
  assigned(owned: readonly number[]): void;
  /** Each partition's lane, while it has one. */
  readonly lanes: ReadonlyMap<number, number>;
  /** Flushes every lane; settles once all have. */
  drainAll(): Promise<void>;
}

export function createPartitions(deps: {
  /** checkpointName: the projection's name, the key of its checkpoints. */
  config: FlushSizeSettings &
    FlushWaitSettings & {
      topic: string;
      checkpointName: string;
      flushLanes: number;
    };
  pool: Pool;
  flusher: Flusher;
  retry: RetryPolicy;
  stats: WorkerStats;
  commitOffsets: OffsetCommitter;
  metrics?: Metrics;
  afterDbCommit?: (result: FlushResult) => void | Promise<void>;
}): Partitions {
  const { config, pool, flusher, retry, stats, commitOffsets, metrics, afterDbCommit } = deps;
  const applied = new Map<number, number>();
  const buffers = new Map<number, BatchBuffer<ConsumedItem>>();
  /** Each partition's lane, its batches queued and not yet flushed, and its last backlog. */
  const lanes = new Map<number, number>();
  const inFlight = new Map<number, number>();
  const behindOf = new Map<number, number>();
  /** The partitions assigned at the last join; before the first, every partition counts. */
  let owned: ReadonlySet<number> | undefined;

  const isOwned = (partition: number) => owned === undefined || owned.has(partition);
  const busy = (partition: number) => (inFlight.get(partition) ?? 0) > 0;

  function partitionsPerLane(): number[] {
    const counts = new Array<number>(config.flushLanes).fill(0);
    for (const lane of lanes.values()) counts[lane]!++;
    return counts;
  }

  /**
   * The partition's lane: its own while busy; else the least loaded, unless its own, counting it,
   * holds at most one partition more (moving would only swap the two lanes' loads).
   */
  function laneOf(partition: number): number {
    const current = lanes.get(partition);
    if (current !== undefined && busy(partition)) return current;
    const counts = partitionsPerLane();
    if (current !== undefined) counts[current]!--;
    const least = counts.indexOf(Math.min(...counts));
    const lane = current !== undefined && counts[current]! <= counts[least]! ? current : least;
    lanes.set(partition, lane);
    if (lane !== current) metrics?.partitionLane.set({ topic: config.topic, partition }, lane);
    return lane;
  }

  function bufferOf(lane: number): BatchBuffer<ConsumedItem> {
    let buffer = buffers.get(lane);
    if (!buffer) {
      buffer = new BatchBuffer<ConsumedItem>({
        maxItems: config.flushMaxEvents,
        maxWaitMs: config.flushIntervalMs,
        flush,
      });
      buffers.set(lane, buffer);
    }
    return buffer;
  }

  /** The largest backlog among the lane's assigned partitions. */
  function laneBehind(lane: number): number {
    let most = 0;
    for (const [partition, l] of lanes)
      if (l === lane && isOwned(partition)) most = Math.max(most, behindOf.get(partition) ?? 0);
    return most;
  }

  /** A partition a rebalance took away gives its lane up once nothing of it is in flight. */
  function releaseIfGone(partition: number): void {
    if (isOwned(partition) || busy(partition)) return;
    lanes.delete(partition);
    behindOf.delete(partition);
    metrics?.partitionLane.remove({ topic: config.topic, partition });
  }

  function settled(partition: number): void {
    const left = (inFlight.get(partition) ?? 1) - 1;
    if (left > 0) return void inFlight.set(partition, left);
    inFlight.delete(partition);
    releaseIfGone(partition);
  }

  async function flush(items: ConsumedItem[]): Promise<void> {
    const started = process.hrtime.bigint();
    const result = await flusher(items);
    recordFlush(stats, metrics, result, items, Number(process.hrtime.bigint() - started) / 1e9);
    await afterDbCommit?.(result);
    const offsets = result.progress
      .filter((p) => result.checkpoints.get(p.partition) === 'stored')
      .map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.nextOffset) }));
    for (const p of result.progress)
      applied.set(p.partition, Math.max(applied.get(p.partition) ?? 0, p.nextOffset));
    await commitOffsets(offsets);
  }

  return {
    enqueue(partition, items, behind) {
      const lane = laneOf(partition);
      behindOf.set(partition, behind);
      const buffer = bufferOf(lane);
      const mostBehind = laneBehind(lane);
      buffer.capacity = flushCapacity(mostBehind, config);
      buffer.maxWait = flushWait(mostBehind, config);
      inFlight.set(partition, (inFlight.get(partition) ?? 0) + 1);
      const flushed = buffer.add(items);
      // Released on a committed flush only: after a failed one the lane refuses everything, and
      // the partition must not move to a healthy lane and flush past the events that failed.
      flushed.then(
        () => settled(partition),
        () => undefined,
      );
      return { flushed, full: buffer.pending > maxPending(buffer.capacity, config) };
    },
    async appliedOffset(partition) {
      const known = applied.get(partition);
      if (known !== undefined) return known;
      const stored = await withRetry(retry, () =>
        loadCheckpoint(pool, config.checkpointName, config.topic, partition),
      );
      applied.set(partition, stored ?? 0);
      return stored ?? 0;
    },
    idle(partition) {
      const lane = lanes.get(partition);
      return lane === undefined ? true : (buffers.get(lane)?.idle ?? true);
    },
    assigned(partitions) {
      applied.clear();
      owned = new Set(partitions);
      for (const partition of [...lanes.keys()]) releaseIfGone(partition);
    },
    lanes,
    async drainAll() {
      await Promise.allSettled([...buffers.values()].map((b) => b.drain()));
    },
  };
}
