/**
 * The projection worker: a kafkajs consumer group feeding one BatchBuffer per partition, flushed through a
 * projection in one transaction per batch. The loop holds no SQL; it moves messages and offsets.
 *
 *   created → starting → running → stopping → stopped
 *                          ↑   ↓    ↘ failed (a flush that exhausted its retries; the process exits
 *                        restarting   non-zero and Kubernetes restarts it from the DB checkpoint)
 *
 * restarting: the stall watch found the kafkajs consumer stuck, and a new one replaces it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { backlogFlushSize, type Config } from '../src/config.js';
import { askedAStaleCoordinator } from '../src/kafka/client.js';
import { dialectOf } from '../src/db/platform.js';
import type { Pool } from '../src/db/pool.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { noClock, stageClock } from '../src/observability/stages.js';
import type { Projection } from '../projections/projection.js';
import { createGroupConsumer, watchGroup } from './consumerGroup.js';
import { createFlusher, type FlushResult } from './flush.js';
import { newWorkerStats, type WorkerStats } from './flushStats.js';
import { toConsumedItem, type ConsumedItem } from './messages.js';
import { partitionGauges } from './partitionGauges.js';
import { createPartitions } from './partitions.js';
import { offsetCommits, type PartitionOffset } from './offsetCommits.js';
import { createStallDetector } from './stallDetector.js';
import { undecodableReporter } from './undecodable.js';

export type { WorkerStats };

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** How long closing a consumer waits for the offset commits handed over before it. */
const COMMIT_SETTLE_MS = 5_000;

export type WorkerState =
  'created' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

export interface WorkerHooks {
  /** Runs after the flush transaction commits and before Kafka offsets are committed (fault tests). */
  afterDbCommit?(result: FlushResult): void | Promise<void>;
  /** Each kafkajs consumer the worker starts, once it runs (the stall test pauses one behind its back). */
  consumerRunning?(consumer: Consumer): void;
}

export interface Worker {
  readonly state: WorkerState;
  readonly stats: Readonly<WorkerStats>;
  /** Consumes until `signal` aborts (resolves after a clean stop) or a flush fails (rejects). */
  run(signal: AbortSignal): Promise<void>;
}

export type WorkerConfig = Pick<
  Config,
  | 'topic'
  | 'groupId'
  | 'flushMaxEvents'
  | 'flushBacklogMaxEvents'
  | 'flushIntervalMs'
  | 'flushLingerMs'
  | 'flushLanes'
  | 'partitionsConsumedConcurrently'
  | 'kafkaSessionTimeoutMs'
  | 'kafkaOffsetCommitIntervalMs'
  | 'kafkaMaxBytesPerPartition'
  | 'retryInitialMs'
  | 'retryMaxMs'
  | 'retryMaxAttempts'
  | 'consumerStallTimeoutMs'
>;

export function createWorker(deps: {
  config: WorkerConfig;
  pool: Pool;
  kafka: Kafka;
  projection: Projection;
  logger: Logger;
  metrics?: Metrics;
  hooks?: WorkerHooks;
}): Worker {
  const { config, pool, kafka, projection, metrics, hooks } = deps;
  const logger = deps.logger.child({ stage: 'worker', topic: config.topic, groupId: config.groupId });
  const retry = {
    initialMs: config.retryInitialMs,
    maxMs: config.retryMaxMs,
    maxAttempts: config.retryMaxAttempts,
  };
  const stats = newWorkerStats();
  const alive = () => {
    stats.lastActivityAt = Date.now();
  };
  let state: WorkerState = 'created';
  let consumer: Consumer | undefined;
  let failWith: (error: unknown) => void = () => undefined;

  const clock = metrics
    ? stageClock((stage, seconds) => metrics.stageSeconds.inc({ stage }, seconds))
    : noClock;
  const flusher = createFlusher({
    pool,
    projection,
    checkpointName: projection.name,
    retry,
    logger: logger.child({ stage: 'flush' }),
    onRetry: alive,
    clock,
    ...(metrics ? { metrics } : {}),
  });

  /**
   * A failed commit (typically a rebalance took the partition away) loses nothing: the checkpoint
   * is in the database, and the partition's next owner starts from it. One that asked a coordinator
   * that moved will fail again and again: the consumer is replaced.
   */
  const commits = offsetCommits({
    intervalMs: config.kafkaOffsetCommitIntervalMs,
    commit: async (offsets) => {
      await consumer?.commitOffsets(offsets);
    },
    onFailure: (error, offsets) => {
      metrics?.errors.inc({ kind: 'kafka_commit' });
      logger.warn({ err: error, offsets }, 'offset commit failed; the DB checkpoint stands');
      if (askedAStaleCoordinator(error))
        stalls.replace(
          'coordinator_lost',
          { offsets },
          'offset commits keep going to a broker that is no longer the group coordinator ' +
            '(tulios/kafkajs#1069); starting a new consumer, which finds the new one',
        );
    },
  });
  function commitOffsets(offsets: PartitionOffset[]): Promise<void> {
    if (offsets.length > 0) commits.submit(offsets);
    return Promise.resolve();
  }
  /** Normally milliseconds; one stuck in kafkajs's retries is left behind (the checkpoint stands). */
  const settleCommits = () =>
    Promise.race([commits.settle(), sleep(COMMIT_SETTLE_MS, undefined, { ref: false })]);

  const flushBacklogMaxEvents = backlogFlushSize(config, dialectOf(pool).backlogFlushEvents);
  const partitions = createPartitions({
    config: { ...config, checkpointName: projection.name, flushBacklogMaxEvents },
    pool,
    flusher,
    retry,
    stats,
    commitOffsets,
    ...(metrics ? { metrics } : {}),
    ...(hooks?.afterDbCommit
      ? { afterDbCommit: (result: FlushResult) => hooks.afterDbCommit?.(result) }
      : {}),
  });
  const stalls = createStallDetector({
    kafka,
    pool,
    topic: config.topic,
    checkpointName: projection.name,
    stallMs: config.consumerStallTimeoutMs,
    idle: (partition) => partitions.idle(partition),
    active: () => state === 'running',
    logger,
    ...(metrics ? { metrics } : {}),
  });
  const reportUndecodable = undecodableReporter(logger, metrics);

  const gauges = partitionGauges(config.topic, metrics);

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || payload.isStale()) return;
    const { topic, partition } = batch;
    stalls.delivered(partition);
    // Messages the broker holds beyond this batch: the partition's backlog.
    const behind = Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1);
    const from = await partitions.appliedOffset(partition);
    const items: ConsumedItem[] = [];
    let skipped = 0;
    clock.timeSync('decode', () => {
      for (const message of batch.messages) {
        // Below the DB checkpoint: applied before Kafka's offset commit could record it.
        if (Number(message.offset) < from) skipped++;
        else items.push(toConsumedItem(topic, partition, message));
      }
    });
    reportUndecodable(items);
    stats.consumed += batch.messages.length;
    stats.skippedBelowCheckpoint += skipped;
    metrics?.events.inc({ result: 'consumed' }, batch.messages.length);
    metrics?.events.inc({ result: 'already_checkpointed' }, skipped);
    try {
      if (items.length > 0) {
        const { flushed, full } = partitions.enqueue(partition, items, behind);
        flushed.catch((error: unknown) => failWith(error));
        // The lane may run ahead of its flushes (so fetching overlaps flushing), no further:
        // beyond that the fetch loop waits, and memory stays bounded. Offsets are resolved before
        // the flush commits; that is safe because Kafka offsets are only committed after it, and a
        // redelivery of what was buffered is a no-op under the version guard.
        if (full) await flushed;
      } else {
        await commitOffsets([{ topic, partition, offset: String(from) }]);
      }
    } catch (error) {
      failWith(error);
      throw error;
    }
    payload.resolveOffset(batch.lastOffset());
    gauges.lag(partition, behind);
    await payload.heartbeat();
  }

  /** A new kafkajs consumer, subscribed and running (the caller closed the one before it). */
  async function openConsumer(): Promise<Consumer> {
    const c = createGroupConsumer(kafka, config);
    consumer = c;
    watchGroup(c, {
      stats,
      logger,
      ...(metrics ? { metrics } : {}),
      onJoin: (assigned) => {
        if (consumer !== c) return;
        const owned = assigned[config.topic] ?? [];
        partitions.assigned(owned);
        gauges.keepOnly(owned);
        stalls.assigned(owned);
      },
      onFatal: (error) => {
        if (consumer === c) failWith(error);
      },
    });
    await c.connect();
    await c.subscribe({ topic: config.topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      eachBatch,
    });
    hooks?.consumerRunning?.(c);
    return c;
  }

  /** Stops fetching, flushes and commits what is buffered while still in the group, leaves, then
   * flushes anything the batches in flight added meanwhile (its offsets stay in the DB checkpoint). */
  async function closeConsumer(c: Consumer): Promise<void> {
    try {
      // Throws when the consumer never got to run (a failed subscribe): nothing to pause then.
      c.pause([{ topic: config.topic }]);
    } catch (error) {
      logger.debug({ err: error }, 'consumer not running: nothing to pause');
    }
    await partitions.drainAll();
    await settleCommits();
    try {
      // Always, even after a failure: an open kafkajs client keeps the process alive.
      await c.disconnect();
    } catch (error) {
      logger.warn({ err: error }, 'consumer disconnect failed');
    }
    await partitions.drainAll();
    await settleCommits();
  }

  async function run(signal: AbortSignal): Promise<void> {
    if (state !== 'created') throw new Error(`worker cannot run from state ${state}`);
    state = 'starting';
    const failed = new Promise<never>((_, reject) => {
      failWith = (error) => reject(asError(error));
    });
    failed.catch(() => undefined);
    const stop = new Promise<'stop'>((resolve) => {
      if (signal.aborted) resolve('stop');
      else signal.addEventListener('abort', () => resolve('stop'), { once: true });
    });

    let failure: Error | undefined;
    try {
      let c = await openConsumer();
      state = 'running';
      logger.info({ backlogFlushSize: flushBacklogMaxEvents }, 'running');
      while ((await Promise.race([stop, failed, stalls.stalled()])) === 'stalled') {
        state = 'restarting';
        await closeConsumer(c);
        c = await openConsumer();
        state = 'running';
      }
    } catch (error) {
      failure = asError(error);
    }
    stalls.stop();
    state = failure === undefined ? 'stopping' : 'failed';
    logger.info(
      { reason: failure === undefined ? 'shutdown' : 'failure' },
      'stopping: finishing the flush in flight',
    );
    if (consumer) await closeConsumer(consumer);
    await stalls.close();
    if (failure !== undefined) {
      logger.error({ err: failure }, 'worker failed');
      throw failure;
    }
    state = 'stopped';
    logger.info({ stats }, 'stopped');
  }

  return {
    get state() {
      return state;
    },
    get stats() {
      return stats;
    },
    run,
  };
}
