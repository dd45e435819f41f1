/**
 * A batch that did not decode is dead-lettered record by record like any bad message, and the
 * partition moves on; it is also an alert (a corrupt log, or a producer's codec we cannot read),
 * so it is logged once per batch with its coordinates and counted.
 */
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import type { ConsumedItem } from './messages.js';

export function undecodableReporter(
  logger: Logger,
  metrics?: Metrics,
): (items: readonly ConsumedItem[]) => void {
  const reported = new WeakSet<object>();
  return (items) => {
    for (const item of items) {
      const batch = item.kind === 'dead' ? item.undecodable : undefined;
      if (!batch || reported.has(batch)) continue;
      reported.add(batch);
      const { codec, firstOffset, lastOffset, records, reason } = batch;
      metrics?.undecodableBatches.inc({ topic: item.topic, partition: item.partition, codec });
      logger.error(
        { partition: item.partition, codec, firstOffset, lastOffset, records, reason },
        'undecodable record batch: its records are dead-lettered and the partition moves on; ' +
          'events stored in bet_events reach the view through `projector repair`',
      );
    }
  };
}
