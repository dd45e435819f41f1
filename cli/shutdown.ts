import type { Logger } from '../src/observability/logger.js';

/**
 * The entry point owns one AbortController. The first SIGTERM/SIGINT aborts it (finish the flush
 * in flight, commit, leave the group); a second signal, or the shutdown timeout, exits non-zero.
 */
export function shutdownSignal(timeoutMs: number, logger: Logger): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      logger.error({ signal: name }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal: name, timeoutMs }, 'shutting down');
    controller.abort();
    setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return controller.signal;
}
