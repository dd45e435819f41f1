/**
 * Per-partition gauges are a worker's only while it owns the partition: after a rebalance takes one
 * away, its last value would otherwise be scraped for ever, next to the new owner's, and inflate lag
 * sums, alerts and the autoscaler's input.
 */
import type { Metrics } from '../src/observability/metrics.js';

export interface PartitionGauges {
  /** The partition's backlog after a batch: messages the broker holds beyond it. */
  lag(partition: number, behind: number): void;
  /** After a join: forget the gauges of partitions no longer ours. */
  keepOnly(owned: readonly number[]): void;
}

export function partitionGauges(topic: string, metrics: Metrics | undefined): PartitionGauges {
  const gauged = new Set<number>();
  return {
    lag(partition, behind) {
      metrics?.consumerLag.set({ topic, partition }, behind);
      gauged.add(partition);
    },
    keepOnly(owned) {
      const keep = new Set(owned);
      for (const partition of gauged) {
        if (keep.has(partition)) continue;
        metrics?.consumerLag.remove({ topic, partition });
        metrics?.checkpointTimestamp.remove({ topic, partition });
        gauged.delete(partition);
      }
    },
  };
}
