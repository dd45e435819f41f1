import type { Logger } from '../../src/observability/logger.js';

/** A logger that keeps [level, message] of each line, for tests of what is logged at which level. */
export function recordingLogger(): { logger: Logger; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (_: unknown, message: string) => void lines.push([level, message]);
  const logger = {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
  } as unknown as Logger;
  return { logger, lines };
}
