import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../../src/kafka/client.js';
import type { Logger } from '../../src/observability/logger.js';

function recording(): { logger: Logger; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (_: unknown, message: string) => void lines.push([level, message]);
  const logger = {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
  } as unknown as Logger;
  return { logger, lines };
}

describe("kafkajs's log lines in ours", () => {
  it('a group coordinator loading or a rebalance in progress is debug, not an alarming error; real errors stay errors', () => {
    const { logger, lines } = recording();
    const log = kafkaLogCreator(logger)(logLevel.INFO);
    const entry = (level: logLevel, message: string, error?: string) =>
      log({
        namespace: 'x',
        level,
        label: 'ERROR',
        log: { message, timestamp: '', ...(error ? { error } : {}) },
      });
    entry(
      logLevel.ERROR,
      'Response GroupCoordinator(key: 10, version: 2)',
      'The group coordinator is not available',
    );
    entry(
      logLevel.ERROR,
      'Response SyncGroup(key: 14, version: 3)',
      'The group is rebalancing, so a rejoin is needed',
    );
    entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', 'Topic authorization failed');
    entry(logLevel.WARN, 'Something else');
    expect(lines).toEqual([
      ['debug', 'Response GroupCoordinator(key: 10, version: 2)'],
      ['debug', 'Response SyncGroup(key: 14, version: 3)'],
      ['error', 'Response Produce(key: 0, version: 7)'],
      ['warn', 'Something else'],
    ]);
  });
});
