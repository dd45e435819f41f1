import { createWorker } from '../../../consumers/worker.js';
import { betsProjection } from '../../../projections/bets/index.js';
import { createMetrics } from '../../observability/metrics.js';
import type { Command } from '../command.js';
import { createRuntime } from '../runtime.js';
import { shutdownSignal } from '../shutdown.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run the projection worker (Kafka consumer group → bets_view)',
  usage: `projector worker

Joins consumer group KAFKA_GROUP_ID on KAFKA_TOPIC and projects events into bets_view, flushing
every FLUSH_MAX_EVENTS events or FLUSH_INTERVAL_MS ms. SIGTERM/SIGINT finish the flush in flight,
commit, leave the group and exit 0; a second signal or SHUTDOWN_TIMEOUT_MS exits 1.`,
  options: {},
  async run() {
    const runtime = createRuntime('worker');
    const signal = shutdownSignal(runtime.config.shutdownTimeoutMs, runtime.logger);
    const worker = createWorker({
      config: runtime.config,
      pool: runtime.pool,
      kafka: runtime.kafka,
      projection: betsProjection,
      logger: runtime.logger,
      metrics: createMetrics(),
    });
    try {
      await worker.run(signal);
    } finally {
      await runtime.close();
    }
    return 0;
  },
};
