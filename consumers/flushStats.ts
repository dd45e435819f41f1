/** What a committed flush adds to the worker's counters and to the Prometheus metrics. */
import type { Metrics } from '../src/observability/metrics.js';
import type { FlushResult } from './flush.js';
import type { ConsumedItem } from './messages.js';

export interface WorkerStats {
  consumed: number;
  projectedRows: number;
  staleEvents: number;
  deadLettered: number;
  refoldedBets: number;
  skippedBelowCheckpoint: number;
  flushes: number;
  lastFlushAt: number | null;
  /** Last sign of life of the consume loop: a fetch, a heartbeat, a flush or a retry. */
  lastActivityAt: number;
  joinedGroup: boolean;
  rebalancing: boolean;
}

/** A worker's counters before its first fetch. */
export function newWorkerStats(now = Date.now()): WorkerStats {
  return {
    consumed: 0,
    projectedRows: 0,
    staleEvents: 0,
    deadLettered: 0,
    refoldedBets: 0,
    skippedBelowCheckpoint: 0,
    flushes: 0,
    lastFlushAt: null,
    lastActivityAt: now,
    joinedGroup: false,
    rebalancing: false,
  };
}

export function recordFlush(
  stats: WorkerStats,
  metrics: Metrics | undefined,
  result: FlushResult,
  items: readonly ConsumedItem[],
  seconds: number,
): void {
  const now = Date.now();
  stats.flushes++;
  stats.lastFlushAt = now;
  stats.lastActivityAt = now;
  stats.projectedRows += result.rowsWritten;
  stats.staleEvents += result.staleEvents;
  stats.deadLettered += result.deadLettered;
  stats.refoldedBets += result.refoldedBets;
  if (!metrics) return;
  metrics.flushDuration.observe(seconds);
  metrics.batchSize.observe(items.length);
  metrics.events.inc({ result: 'projected' }, result.events - result.staleEvents);
  metrics.events.inc({ result: 'stale' }, result.staleEvents);
  metrics.events.inc({ result: 'dead_lettered' }, result.deadLettered);
  metrics.refolds.inc(result.refoldedBets);
  for (const [eventType, bets] of Object.entries(result.held ?? {})) {
    metrics.heldBets.inc({ event_type: eventType }, bets);
  }
  for (const item of items) {
    if (item.kind === 'event')
      metrics.observeEventToView((now - item.event.timestamp) / 1000, result.traceId);
  }
  for (const p of result.progress) {
    if (p.lastEventTimestamp !== null) {
      metrics.checkpointTimestamp.set(
        { topic: p.topic, partition: p.partition },
        p.lastEventTimestamp / 1000,
      );
    }
  }
}
