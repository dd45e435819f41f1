/**
 * The projection worker: a kafkajs consumer group feeding one BatchBuffer per partition, flushed through a
 * projection in one transaction per batch. The loop holds no SQL; it moves messages and offsets.
 *
 *   created → starting → running → stopping → stopped
 *                              ↘ failed (a flush that exhausted its retries; the process exits
 *                                non-zero and Kubernetes restarts it from the DB checkpoint)
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Config } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import { withRetry } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { noClock, stageClock } from '../src/observability/stages.js';
import type { Projection } from '../projections/projection.js';
import { BatchBuffer } from './batchBuffer.js';
import { loadCheckpoint } from './checkpoints.js';
import { createFlusher, type FlushResult } from './flush.js';
import { flushCapacity, maxPending } from './flushSize.js';
import { recordFlush, type WorkerStats } from './flushStats.js';

export type { WorkerStats };
import { toConsumedItem, type ConsumedItem } from './messages.js';

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export type WorkerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface WorkerHooks {
  /** Runs after the flush transaction commits and before Kafka offsets are committed (fault tests). */
  afterDbCommit?(result: FlushResult): void | Promise<void>;
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
  | 'projectionName'
  | 'flushMaxEvents'
  | 'flushBacklogMaxEvents'
  | 'flushIntervalMs'
  | 'partitionsConsumedConcurrently'
  | 'kafkaSessionTimeoutMs'
  | 'kafkaMaxBytesPerPartition'
  | 'retryInitialMs'
  | 'retryMaxMs'
  | 'retryMaxAttempts'
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
  const stats: WorkerStats = {
    consumed: 0,
    projectedRows: 0,
    staleEvents: 0,
    deadLettered: 0,
    refoldedBets: 0,
    skippedBelowCheckpoint: 0,
    flushes: 0,
    lastFlushAt: null,
    lastActivityAt: Date.now(),
    joinedGroup: false,
    rebalancing: false,
  };
  const alive = () => {
    stats.lastActivityAt = Date.now();
  };
  let state: WorkerState = 'created';
  let consumer: Consumer | undefined;
  let failWith: (error: unknown) => void = () => undefined;
  /** partition → next offset known to be applied (the DB checkpoint, then our own flushes). */
  const applied = new Map<number, number>();

  const clock = metrics
    ? stageClock((stage, seconds) => metrics.stageSeconds.inc({ stage }, seconds))
    : noClock;
  const flusher = createFlusher({
    pool,
    projection,
    checkpointName: config.projectionName,
    retry,
    logger: logger.child({ stage: 'flush' }),
    onRetry: alive,
    clock,
    ...(metrics ? { metrics } : {}),
  });

  async function flush(items: ConsumedItem[]): Promise<void> {
    const started = process.hrtime.bigint();
    const result = await flusher(items);
    recordFlush(stats, metrics, result, items, Number(process.hrtime.bigint() - started) / 1e9);
    await hooks?.afterDbCommit?.(result);
    const offsets = result.progress
      .filter((p) => result.checkpoints.get(p.partition) === 'stored')
      .map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.nextOffset) }));
    for (const p of result.progress)
      applied.set(p.partition, Math.max(applied.get(p.partition) ?? 0, p.nextOffset));
    await commitOffsets(offsets);
  }

  /**
   * A failed commit (typically a rebalance took the partition away) loses nothing: the checkpoint
   * is in the database, and the partition's next owner starts from it.
   */
  async function commitOffsets(
    offsets: Array<{ topic: string; partition: number; offset: string }>,
  ): Promise<void> {
    if (offsets.length === 0 || !consumer) return;
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      metrics?.errors.inc({ kind: 'kafka_commit' });
      logger.warn({ err: error, offsets }, 'offset commit failed; the DB checkpoint stands');
    }
  }

  /**
   * One buffer per partition: each partition's flushes are ordered, and different partitions
   * flush in parallel on separate connections, so one transaction's commit latency does not hold
   * up the others. A bet always lives in one partition, so parallel flushes never race on a row.
   */
  const buffers = new Map<number, BatchBuffer<ConsumedItem>>();
  const bufferOf = (partition: number): BatchBuffer<ConsumedItem> => {
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
  };

  async function appliedOffset(partition: number): Promise<number> {
    const known = applied.get(partition);
    if (known !== undefined) return known;
    const stored = await withRetry(retry, () =>
      loadCheckpoint(pool, config.projectionName, config.topic, partition),
    );
    applied.set(partition, stored ?? 0);
    return stored ?? 0;
  }

  /**
   * A batch that did not decode is dead-lettered record by record like any bad message, and the
   * partition moves on; it is also an alert (a corrupt log or a producer's codec we cannot read),
   * so it is logged once per batch with its coordinates and counted.
   */
  const reportedBatches = new WeakSet<object>();
  function reportUndecodable(items: readonly ConsumedItem[]): void {
    for (const item of items) {
      const batch = item.kind === 'dead' ? item.undecodable : undefined;
      if (!batch || reportedBatches.has(batch)) continue;
      reportedBatches.add(batch);
      const { codec, firstOffset, lastOffset, records, reason } = batch;
      metrics?.undecodableBatches.inc({ topic: item.topic, partition: item.partition, codec });
      logger.error(
        { partition: item.partition, codec, firstOffset, lastOffset, records, reason },
        'undecodable record batch: its records are dead-lettered and the partition moves on; ' +
          'events stored in bet_events reach the view through `projector repair`',
      );
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || payload.isStale()) return;
    const { topic, partition } = batch;
    // Messages the broker holds beyond this batch: the partition's backlog.
    const behind = Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1);
    const from = await appliedOffset(partition);
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
        const buffer = bufferOf(partition);
        buffer.capacity = flushCapacity(behind, config);
        const flushed = buffer.add(items);
        flushed.catch((error: unknown) => failWith(error));
        // The partition may run ahead of its flushes (so fetching overlaps flushing), no further:
        // beyond that the fetch loop waits, and memory stays bounded. Offsets are resolved before
        // the flush commits; that is safe because Kafka offsets are only committed after it, and a
        // redelivery of what was buffered is a no-op under the version guard.
        if (buffer.pending > maxPending(buffer.capacity, config)) await flushed;
      } else {
        await commitOffsets([{ topic, partition, offset: String(from) }]);
      }
    } catch (error) {
      failWith(error);
      throw error;
    }
    payload.resolveOffset(batch.lastOffset());
    metrics?.consumerLag.set({ topic, partition }, behind);
    await payload.heartbeat();
  }

  async function run(signal: AbortSignal): Promise<void> {
    if (state !== 'created') throw new Error(`worker cannot run from state ${state}`);
    state = 'starting';
    const failed = new Promise<never>((_, reject) => {
      failWith = (error) => reject(asError(error));
    });
    failed.catch(() => undefined);
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });

    const c = kafka.consumer({
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
    consumer = c;
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      // Assignments may have moved: re-read checkpoints for whatever we now own.
      applied.clear();
      stats.joinedGroup = true;
      stats.rebalancing = false;
      alive();
      metrics?.groupJoins.inc();
      logger.info(
        { assignment: payload.memberAssignment, generation: payload.groupProtocol },
        'joined group',
      );
    });
    c.on(c.events.REBALANCING, () => {
      stats.rebalancing = true;
      metrics?.rebalances.inc();
      logger.info('rebalancing');
    });
    c.on(c.events.FETCH_START, alive);
    c.on(c.events.HEARTBEAT, alive);
    c.on(c.events.CRASH, ({ payload }) => {
      metrics?.errors.inc({ kind: 'kafka_crash' });
      logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart) failWith(payload.error);
    });

    let failure: Error | undefined;
    try {
      await c.connect();
      await c.subscribe({ topic: config.topic, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
        eachBatch,
      });
      state = 'running';
      logger.info('running');
      await Promise.race([aborted, failed]);
    } catch (error) {
      failure = asError(error);
    }
    state = failure === undefined ? 'stopping' : 'failed';
    logger.info(
      { reason: failure === undefined ? 'shutdown' : 'failure' },
      'stopping: finishing the flush in flight',
    );
    const drainAll = () => Promise.allSettled([...buffers.values()].map((b) => b.drain()));
    // Stop fetching, flush and commit what is buffered while still in the group, leave, then
    // flush anything the batches in flight added meanwhile (its offsets stay in the DB checkpoint).
    try {
      // Throws when the consumer never got to run (a failed subscribe): nothing to pause then.
      c.pause([{ topic: config.topic }]);
    } catch (error) {
      logger.debug({ err: error }, 'consumer not running: nothing to pause');
    }
    await drainAll();
    try {
      // Always, even after a failure: an open kafkajs client keeps the process alive.
      await c.disconnect();
    } catch (error) {
      logger.warn({ err: error }, 'consumer disconnect failed');
    }
    await drainAll();
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
