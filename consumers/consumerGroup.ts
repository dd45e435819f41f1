/**
 * The worker's kafkajs consumer: its settings (what bounds memory, how long it retries), and what
 * the group's events mean to the worker's stats, metrics and logs.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { Config } from '../src/config.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import type { WorkerStats } from './flushStats.js';

export type GroupConsumerConfig = Pick<
  Config,
  | 'groupId'
  | 'kafkaSessionTimeoutMs'
  | 'flushIntervalMs'
  | 'kafkaMaxBytesPerPartition'
  | 'retryMaxAttempts'
  | 'retryInitialMs'
  | 'retryMaxMs'
>;

export function createGroupConsumer(kafka: Kafka, config: GroupConsumerConfig): Consumer {
  return kafka.consumer({
    groupId: config.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: config.kafkaSessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(config.kafkaSessionTimeoutMs / 10)),
    maxWaitTimeInMs: Math.max(50, config.flushIntervalMs),
    // Fetched batches are what a worker holds in memory: bounded per partition and in total.
    maxBytesPerPartition: config.kafkaMaxBytesPerPartition,
    maxBytes: config.kafkaMaxBytesPerPartition * 8,
    // kafkajs gives a consumer 5 retries by default (a few seconds): a broker restart longer than
    // that crashed the worker ("Failed to find group coordinator", found by the fault suite).
    // The same budget as a flush against a database outage, about a minute with the defaults.
    retry: {
      retries: config.retryMaxAttempts,
      initialRetryTime: config.retryInitialMs,
      maxRetryTime: config.retryMaxMs,
    },
  });
}

export function watchGroup(
  consumer: Consumer,
  deps: {
    stats: WorkerStats;
    logger: Logger;
    metrics?: Metrics;
    /** A join: assignments may have moved; `assigned` maps each topic to the partitions now ours. */
    onJoin: (assigned: Readonly<Record<string, readonly number[]>>) => void;
    /** A crash kafkajs will not restart from. */
    onFatal: (error: Error) => void;
  },
): void {
  const { stats, logger, metrics } = deps;
  const alive = () => {
    stats.lastActivityAt = Date.now();
  };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    deps.onJoin(payload.memberAssignment);
    stats.joinedGroup = true;
    stats.rebalancing = false;
    alive();
    metrics?.groupJoins.inc();
    logger.info({ assignment: payload.memberAssignment, generation: payload.groupProtocol }, 'joined group');
  });
  consumer.on(consumer.events.REBALANCING, () => {
    stats.rebalancing = true;
    metrics?.rebalances.inc();
    logger.info('rebalancing');
  });
  consumer.on(consumer.events.FETCH_START, alive);
  consumer.on(consumer.events.HEARTBEAT, alive);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    metrics?.errors.inc({ kind: 'kafka_crash' });
    logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
    if (!payload.restart) deps.onFatal(payload.error);
  });
}
