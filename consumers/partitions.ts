/**
 * What the worker keeps per partition: a BatchBuffer whose flushes are ordered, and the next offset
 * known to be applied (the DB checkpoint, then its own flushes). A flush commits the batch in one
 * transaction, then — only then — its Kafka offsets.
 *
 * One buffer per partition: each partition's flushes are ordered, and different partitions flush in
 * parallel on separate connections, so one transaction's commit latency does not hold up the
 * others. A bet always lives in one partition, so parallel flushes never race on a row.
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
  /** The partition's buffer, made on first use. */
  bufferOf(partition: number): BatchBuffer<ConsumedItem>;
  /** The next offset the view already holds for the partition (asks the DB checkpoint once). */
  appliedOffset(partition: number): Promise<number>;
  /** Nothing of the partition buffered or flushing. */
  idle(partition: number): boolean;
  /** After a rebalance: assignments may have moved, so checkpoints are read again. */
  forgetOffsets(): void;
  /** Flushes every buffer; settles once all have. */
  drainAll(): Promise<void>;
}

export function createPartitions(deps: {
  /** checkpointName: the projection's name, the key of its checkpoints. */
  config: { topic: string; checkpointName: string; flushMaxEvents: number; flushIntervalMs: number };
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
      let buffer = buffers.get(partition);
      if (!buffer) {
        buffer = new BatchBuffer<ConsumedItem>({
          maxItems: config.flushMaxEvents,
          maxWaitMs: config.flushIntervalMs,
          flush,
        });
        buffers.set(partition, buffer);
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
      return buffers.get(partition)?.idle ?? true;
    },
    forgetOffsets() {
      applied.clear();
    },
    async drainAll() {
      await Promise.allSettled([...buffers.values()].map((b) => b.drain()));
    },
  };
}
