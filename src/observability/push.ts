/**
 * Metrics of a command that runs and ends (`rebuild`, `repair`): a Kubernetes Job lives too briefly,
 * and too rarely, for a scrape to find it. With PUSHGATEWAY_URL set, its registry is pushed to a
 * Prometheus Pushgateway every few seconds while it runs and once more when it ends, under
 * `job=<name>` (PUT: each push replaces the last, so the final values stay until the next run).
 * Pushing never fails the command: a missing gateway is logged.
 */
import { Pushgateway, type Registry, type RegistryContentType } from 'prom-client';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';

export interface MetricsPusher {
  /** Pushes once more and stops. */
  stop(): Promise<void>;
}

const NOT_PUSHING: MetricsPusher = { stop: () => Promise.resolve() };

function pushMetrics(options: {
  url: string | undefined;
  job: string;
  registry: Registry<RegistryContentType>;
  logger: Logger;
  intervalMs?: number;
}): MetricsPusher {
  const { url, job, registry, logger } = options;
  if (!url) return NOT_PUSHING;
  const gateway = new Pushgateway(url, { timeout: 5_000 }, registry);
  let warned = false;
  const push = async () => {
    try {
      await gateway.push({ jobName: job });
    } catch (error) {
      if (!warned) logger.warn({ err: error, job }, 'could not push metrics to the Pushgateway');
      warned = true;
    }
  };
  let pushing = push();
  const timer = setInterval(() => {
    pushing = pushing.then(push);
  }, options.intervalMs ?? 5_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await pushing;
      await push();
    },
  };
}

/** A command's own metrics (no process metrics), pushed under `job` when PUSHGATEWAY_URL is set. */
export function jobMetrics(
  job: string,
  runtime: { config: { pushgatewayUrl: string | undefined }; logger: Logger },
): { metrics: Metrics; pusher: MetricsPusher } {
  const metrics = createMetrics({ defaultMetrics: false });
  const pusher = pushMetrics({
    url: runtime.config.pushgatewayUrl,
    job,
    registry: metrics.registry,
    logger: runtime.logger,
  });
  return { metrics, pusher };
}
