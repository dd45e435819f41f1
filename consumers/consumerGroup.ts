/**
 * The worker's kafkajs consumer: its settings (what bounds memory, how long it retries), and what
 * the group's events mean to the worker's stats, metrics and logs.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { isTransientGroupAnswer } from '../src/kafka/client.js';
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
  // One line per crash, at the level it deserves: error only when kafkajs gives up (the process
  // stops, and an operator must act); a crash it restarts from is a warning, and a coordinator
  // still loading (every fresh broker, every coordinator move) is the group's ordinary wait.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    metrics?.errors.inc({ kind: 'kafka_crash' });
    if (!payload.restart) {
      logger.error(
        { err: payload.error },
        'consumer crashed; kafkajs does not restart it, so the worker stops',
      );
      deps.onFatal(payload.error);
    } else if (isTransientGroupAnswer(payload.error)) {
      logger.info({ reason: payload.error.message }, 'the group coordinator is not ready yet; rejoining');
    } else {
      logger.warn({ err: payload.error }, 'consumer crashed; kafkajs restarts it');
    }
  });
}
