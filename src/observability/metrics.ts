/** Every metric the projector exports; names are constants here and nowhere else. */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type RegistryContentType,
} from 'prom-client';
import { STAGES } from './stages.js';

export const METRIC = {
  events: 'projector_events_total',
  flushDuration: 'projector_flush_duration_seconds',
  batchSize: 'projector_flush_batch_size',
  eventToView: 'projector_event_to_view_latency_seconds',
  consumerLag: 'projector_consumer_lag_messages',
  checkpointTimestamp: 'projector_checkpoint_event_timestamp_seconds',
  partitionLane: 'projector_partition_flush_lane',
  errors: 'projector_errors_total',
  retries: 'projector_retries_total',
  refolds: 'projector_refolded_bets_total',
  heldBets: 'projector_held_bets_total',
  rebalances: 'projector_rebalances_total',
  groupJoins: 'projector_group_joins_total',
  consumerRestarts: 'projector_consumer_restarts_total',
  rebuildProgress: 'projector_rebuild_progress_ratio',
  repairProgress: 'projector_repair_progress_ratio',
  repairedBets: 'projector_repaired_bets_total',
  stageSeconds: 'projector_stage_seconds_total',
  undecodableBatches: 'projector_undecodable_batches_total',
} as const;

export type EventResult = 'consumed' | 'projected' | 'stale' | 'dead_lettered' | 'already_checkpointed';

export interface Metrics {
  readonly registry: Registry<RegistryContentType>;
  readonly events: Counter<'result'>;
  readonly flushDuration: Histogram;
  readonly batchSize: Histogram;
  readonly eventToView: Histogram;
  /** One event → view latency; with exemplars on, tagged with the sampled flush's trace id. */
  observeEventToView(seconds: number, traceId: string | undefined): void;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly checkpointTimestamp: Gauge<'topic' | 'partition'>;
  readonly partitionLane: Gauge<'topic' | 'partition'>;
  readonly errors: Counter<'kind'>;
  readonly retries: Counter<'operation'>;
  readonly refolds: Counter;
  readonly heldBets: Counter<'event_type'>;
  readonly rebalances: Counter;
  readonly groupJoins: Counter;
  readonly consumerRestarts: Counter<'reason'>;
  readonly rebuildProgress: Gauge;
  readonly repairProgress: Gauge;
  readonly repairedBets: Counter<'source'>;
  readonly stageSeconds: Counter<'stage'>;
  readonly undecodableBatches: Counter<'topic' | 'partition' | 'codec'>;
}

/**
 * `exemplars` (on with traces): the registry serves OpenMetrics, and the event → view latency
 * histogram keeps, per bucket, the trace id of a sampled flush that observed it.
 */
export function createMetrics(options: { defaultMetrics?: boolean; exemplars?: boolean } = {}): Metrics {
  const exemplars = options.exemplars ?? false;
  const registry = new Registry<RegistryContentType>();
  if (exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const eventToView = new Histogram({
    name: METRIC.eventToView,
    help: 'From the event timestamp to the commit of its view row',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
    enableExemplars: exemplars,
  });
  return {
    registry,
    eventToView,
    observeEventToView: exemplars
      ? (value, traceId) =>
          eventToView.observe({ value, exemplarLabels: traceId ? { trace_id: traceId } : {} })
      : (value) => eventToView.observe(value),
    events: new Counter({
      name: METRIC.events,
      help: 'Events by outcome: consumed from Kafka, projected, skipped as stale, dead-lettered, skipped below checkpoint',
      labelNames: ['result'],
      registers,
    }),
    flushDuration: new Histogram({
      name: METRIC.flushDuration,
      help: 'One flush from start to commit: reading stored rows, folding, and its transaction (rows, dead letters, checkpoints, COMMIT), retries included',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    batchSize: new Histogram({
      name: METRIC.batchSize,
      help: 'Messages per flush',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers,
    }),
    consumerLag: new Gauge({
      name: METRIC.consumerLag,
      help: 'Messages between the partition end and the last flushed offset',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    checkpointTimestamp: new Gauge({
      name: METRIC.checkpointTimestamp,
      help: 'Timestamp of the newest event checkpointed per partition (unix seconds)',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    partitionLane: new Gauge({
      name: METRIC.partitionLane,
      help: 'The flush lane (0 to FLUSH_LANES - 1) a partition flushes in, while it has one; count_values by lane shows how evenly the lanes are shared',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    errors: new Counter({ name: METRIC.errors, help: 'Errors by kind', labelNames: ['kind'], registers }),
    retries: new Counter({
      name: METRIC.retries,
      help: 'Retried operations',
      labelNames: ['operation'],
      registers,
    }),
    refolds: new Counter({
      name: METRIC.refolds,
      help: 'Bets re-folded from the event store (gap healing)',
      registers,
    }),
    heldBets: new Counter({
      name: METRIC.heldBets,
      help: 'Bets a flush re-folded only up to a stored event of a type this version does not know, by that type (each time it met them)',
      labelNames: ['event_type'],
      registers,
    }),
    rebalances: new Counter({ name: METRIC.rebalances, help: 'Consumer group rebalances seen', registers }),
    groupJoins: new Counter({ name: METRIC.groupJoins, help: 'Consumer group joins', registers }),
    consumerRestarts: new Counter({
      name: METRIC.consumerRestarts,
      help: 'Kafka consumers the worker replaced as stuck, by reason (stalled: fetched nothing while its partitions had messages; coordinator_lost: committed to a broker no longer the group coordinator)',
      labelNames: ['reason'],
      registers,
    }),
    rebuildProgress: new Gauge({
      name: METRIC.rebuildProgress,
      help: 'Progress of a running rebuild, 0..1 (pushed to the Pushgateway by `projector rebuild`)',
      registers,
    }),
    repairProgress: new Gauge({
      name: METRIC.repairProgress,
      help: 'Progress of a running repair, 0..1 (pushed to the Pushgateway by `projector repair`)',
      registers,
    }),
    repairedBets: new Counter({
      name: METRIC.repairedBets,
      help: 'Bets whose bets_view row a re-fold from the event store changed, by repair or the reconciliation sweep (bets only looked at are not counted)',
      labelNames: ['source'],
      registers,
    }),
    stageSeconds: new Counter({
      name: METRIC.stageSeconds,
      help: `Seconds spent per pipeline stage (${STAGES.join(', ')}); partitions flush in parallel, so the sum can exceed wall time`,
      labelNames: ['stage'],
      registers,
    }),
    undecodableBatches: new Counter({
      name: METRIC.undecodableBatches,
      help: 'Record batches that did not decode (corrupt, or an unknown codec): each record dead-lettered with the batch coordinates, the partition moved on',
      labelNames: ['topic', 'partition', 'codec'],
      registers,
    }),
  };
}
