/** Runs a real worker against the test topic until a condition holds, then stops it cleanly. */
import type { Kafka } from 'kafkajs';
import { createWorker, type Worker, type WorkerConfig, type WorkerHooks } from '../../consumers/worker.js';
import { isCaughtUp } from '../../consumers/lag.js';
import type { Pool } from '../../src/db/pool.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createProjection as createBetsProjection } from '../../projections/registry.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import { waitFor } from './oracle.js';

export function workerConfig(
  topic: string,
  groupId: string,
  overrides: Partial<WorkerConfig> = {},
): WorkerConfig {
  return {
    topic,
    groupId,
    flushMaxEvents: 100,
    flushBacklogMaxEvents: 1_000,
    flushIntervalMs: 50,
    flushLingerMs: 5,
    flushLanes: 2,
    partitionsConsumedConcurrently: 3,
    kafkaSessionTimeoutMs: 10_000,
    kafkaOffsetCommitIntervalMs: 1_000,
    kafkaMaxBytesPerPartition: 262_144,
    retryInitialMs: 20,
    retryMaxMs: 200,
    retryMaxAttempts: 3,
    consumerStallTimeoutMs: 60_000,
    ...overrides,
  };
}

export interface RunningWorker {
  readonly worker: Worker;
  readonly metrics: Metrics;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export function startWorker(
  pool: Pool,
  kafka: Kafka,
  config: WorkerConfig,
  hooks?: WorkerHooks,
): RunningWorker {
  const metrics = createMetrics({ defaultMetrics: false });
  const worker = createWorker({
    config,
    pool,
    kafka,
    // With the row cache on (off by default; `projector worker` processes in the tests run the
    // default), so both ways of knowing the stored rows meet every scenario.
    projection: createBetsProjection({ rowCache: new RowCache(20_000) }),
    logger: silentLogger,
    metrics,
    ...(hooks ? { hooks } : {}),
  });
  const controller = new AbortController();
  const done = worker.run(controller.signal);
  done.catch(() => undefined);
  return {
    worker,
    metrics,
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

export async function untilCaughtUp(pool: Pool, kafka: Kafka, config: WorkerConfig, running?: RunningWorker) {
  await waitFor(
    `${config.topic} to be projected`,
    async () => {
      if (running?.worker.state === 'failed') await running.done;
      return isCaughtUp(pool, kafka, 'bets_view', config.topic);
    },
    60_000,
  );
}
