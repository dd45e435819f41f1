/**
 * Fault injection for the fault suite, off unless PROJECTOR_FAULTS is set. Never set it in
 * production. Comma-separated:
 *   crash-after-db-commit=N   exit 137 (like SIGKILL) after the Nth flush commits, before the
 *                             Kafka offset commit
 *   slow-flush-ms=N           sleep N ms after each DB commit (to test shutdown timeouts)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerHooks } from './worker.js';
import { ConfigError } from '../src/config.js';
import type { Logger } from '../src/observability/logger.js';

export function faultHooks(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): WorkerHooks | undefined {
  const spec = env['PROJECTOR_FAULTS']?.trim();
  if (!spec) return undefined;
  let crashAfter = 0;
  let slowMs = 0;
  for (const part of spec.split(',')) {
    const [name, value = ''] = part.split('=');
    if (!/^\d+$/.test(value)) throw new ConfigError(`PROJECTOR_FAULTS "${part}" needs a whole number`);
    if (name === 'crash-after-db-commit') crashAfter = Number(value);
    else if (name === 'slow-flush-ms') slowMs = Number(value);
    else throw new ConfigError(`PROJECTOR_FAULTS "${part}" is not a known fault`);
  }
  logger.warn({ faults: spec }, 'FAULT INJECTION ENABLED');
  let commits = 0;
  return {
    async afterDbCommit() {
      if (slowMs > 0) await sleep(slowMs);
      if (crashAfter > 0 && ++commits >= crashAfter) {
        logger.warn({ commits }, 'injected crash after the DB commit, before the offset commit');
        process.exit(137);
      }
    },
  };
}
