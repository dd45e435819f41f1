/**
 * Fault injection for the fault suite, off unless PROJECTOR_FAULTS is set (src/config.ts parses
 * it). Never set it in production.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerHooks } from './worker.js';
import type { Faults } from '../src/config.js';
import type { Logger } from '../src/observability/logger.js';

export function faultHooks(faults: Faults | undefined, logger: Logger): WorkerHooks | undefined {
  if (!faults) return undefined;
  const { crashAfterDbCommit, slowFlushMs } = faults;
  logger.warn({ faults }, 'FAULT INJECTION ENABLED');
  let commits = 0;
  return {
    async afterDbCommit() {
      if (slowFlushMs > 0) await sleep(slowFlushMs);
      if (crashAfterDbCommit > 0 && ++commits >= crashAfterDbCommit) {
        logger.warn({ commits }, 'injected crash after the DB commit, before the offset commit');
        process.exit(137);
      }
    },
  };
}
