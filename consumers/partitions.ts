/**
 * What the worker keeps per partition: the lane it flushes in, and the next offset known to be
 * applied (the DB checkpoint, then its own flushes). A flush commits the batch in one transaction,
 * then — only then — its Kafka offsets.
 *
 * A lane is a BatchBuffer whose flushes are ordered; a partition keeps its lane, so its flushes are
 * ordered too. The worker has FLUSH_LANES of them, flushing in parallel on separate connections,
 * and gives each partition it meets the next lane in turn. A flush carries the events of the
 * lane's partitions and a checkpoint for each. Fewer lanes than partitions means fewer, larger
 * transactions while the worker is caught up: each transaction has a fixed cost in the database
 * and a commit to wait for (docs/benchmarks.md). A bet always lives in one partition, so parallel
 * flushes never race on a row.
 */
import type { Pool } from '../src/db/pool.js';
import { withRetry, type RetryPolicy } from '../src/errors.js';
import type { Metrics } from '../src/observability/metrics.js';
import { BatchBuffer } from './batchBuffer.js';
import { loadCheckpoint } from './checkpoints.js';
import type { Flusher, FlushResult } from './flush.js';
import { recordFlush, type WorkerStats } from './flushStats.js';
import type { ConsumedItem } from './messages.js';

export type OffsetCommitter = (
  offsets: Array<{ topic: string; partition: number; offset: string }>,
) => Promise<void>;

export interface Partitions {
  /** The buffer of the partition's lane, made on first use. */
  bufferOf(partition: number): BatchBuffer<ConsumedItem>;
  /** The next offset the view already holds for the partition (asks the DB checkpoint once). */
  appliedOffset(partition: number): Promise<number>;
  /** Nothing of the partition's lane buffered or flushing (another partition's flush counts). */
  idle(partition: number): boolean;
  /** After a rebalance: assignments may have moved, so checkpoints are read again. */
  forgetOffsets(): void;
  /** Flushes every lane; settles once all have. */
  drainAll(): Promise<void>;
}

export function createPartitions(deps: {
  /** checkpointName: the projection's name, the key of its checkpoints. */
  config: {
    topic: string;
    checkpointName: string;
    flushMaxEvents: number;
    flushIntervalMs: number;
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
  /** Each lane's buffer, made on first use; and each partition's lane, kept for the worker's life. */
  const buffers = new Map<number, BatchBuffer<ConsumedItem>>();
  const lanes = new Map<number, number>();
  const laneOf = (partition: number): number => {
    let lane = lanes.get(partition);
    if (lane === undefined) {
      lane = lanes.size % config.flushLanes;
      lanes.set(partition, lane);
    }
    return lane;
  };

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
    bufferOf(partition) {
      const lane = laneOf(partition);
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
    forgetOffsets() {
      applied.clear();
    },
    async drainAll() {
      await Promise.allSettled([...buffers.values()].map((b) => b.drain()));
    },
  };
}
