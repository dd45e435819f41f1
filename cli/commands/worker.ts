import { liveness, readiness } from '../../consumers/health.js';
import { runSweep } from '../../consumers/sweep.js';
import { createWorker } from '../../consumers/worker.js';
import { createBetsProjection } from '../../projections/bets/index.js';
import { createProjection, FOLLOWER_NAMES, reconciler } from '../../projections/registry.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import { describeConfig } from '../../src/config.js';
import { faultHooks } from '../../consumers/faultHooks.js';
import { startHttpServer } from '../../src/observability/httpServer.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { tracingEnabled } from '../../src/observability/tracing.js';
import type { Command } from '../command.js';
import { openRuntime } from '../runtime.js';
import { shutdownSignal } from '../shutdown.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run the projection worker (Kafka consumer group → bets_view)',
  usage: `projector worker

Joins consumer group KAFKA_GROUP_ID on KAFKA_TOPIC and projects events into bets_view, flushing
every FLUSH_MAX_EVENTS events or FLUSH_INTERVAL_MS ms. Serves /metrics, /healthz and /readyz on
HTTP_PORT. SIGTERM/SIGINT finish the flush in flight, commit, leave the group and exit 0; a second
signal or SHUTDOWN_TIMEOUT_MS exits non-zero.`,
  options: {},
  async run() {
    const runtime = await openRuntime('worker', { kafka: true, topic: true });
    runtime.logger.info({ config: describeConfig(runtime.config) }, 'starting');
    const signal = shutdownSignal(runtime.config.shutdownTimeoutMs, runtime.logger);
    const metrics = createMetrics({ exemplars: tracingEnabled() });
    const rowCache =
      runtime.config.viewRowCacheSize > 0 ? { rowCache: new RowCache(runtime.config.viewRowCacheSize) } : {};
    const betsViewAlone = runtime.config.benchBetsViewAlone;
    if (betsViewAlone)
      runtime.logger.warn(
        `PROJECTOR_BENCH_BETS_VIEW_ALONE: ${FOLLOWER_NAMES} are not maintained (bench only)`,
      );
    const worker = createWorker({
      config: runtime.config,
      pool: runtime.pool,
      kafka: runtime.kafka,
      projection: betsViewAlone ? createBetsProjection(rowCache) : createProjection(rowCache),
      logger: runtime.logger,
      metrics,
      hooks: faultHooks(runtime.config.faults, runtime.logger),
    });
    const http = await startHttpServer({
      port: runtime.config.httpPort,
      registry: metrics.registry,
      liveness: () => liveness(worker, runtime.config.livenessTimeoutMs),
      readiness: () => readiness(worker, runtime.pool),
    });
    runtime.logger.info({ port: http.port }, 'serving /metrics, /healthz, /readyz');
    // The sweep stops with the worker, whether it was asked to or failed.
    const sweepStop = new AbortController();
    signal.addEventListener('abort', () => sweepStop.abort(), { once: true });
    const sweep = runSweep({
      pool: runtime.pool,
      config: runtime.config,
      reconciler,
      logger: runtime.logger,
      metrics,
      signal: sweepStop.signal,
    });
    try {
      await worker.run(signal);
    } finally {
      sweepStop.abort();
      await sweep;
      await http.close();
      await runtime.close();
    }
    return 0;
  },
};
