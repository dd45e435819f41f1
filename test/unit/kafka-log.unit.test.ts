import { logLevel } from 'kafkajs';
import { isTransientGroupAnswer, kafkaLogCreator } from '../../src/kafka/client.js';
import { recordingLogger as recording } from '../support/recordingLogger.js';

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

  it("kafkajs's own crash report is debug: the worker reports each crash once from the CRASH event", () => {
    const { logger, lines } = recording();
    const log = kafkaLogCreator(logger)(logLevel.INFO);
    const entry = (message: string) =>
      log({ namespace: 'Consumer', level: logLevel.ERROR, label: 'ERROR', log: { message, timestamp: '' } });
    entry("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests");
    entry('Restarting the consumer in 100ms');
    entry('Crashing for another reason, not the crash report');
    expect(lines).toEqual([
      ['debug', "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests"],
      ['debug', 'Restarting the consumer in 100ms'],
      ['error', 'Crashing for another reason, not the crash report'],
    ]);
  });

  it('a transient group answer is recognised through the errors that wrap it, and nothing else is', () => {
    const loading = new Error("The coordinator is loading and hence can't process requests for this group");
    const exceeded = Object.assign(new Error('retries exceeded'), { originalError: loading });
    expect(isTransientGroupAnswer(loading)).toBe(true);
    expect(isTransientGroupAnswer(exceeded)).toBe(true);
    expect(isTransientGroupAnswer(new Error('boom', { cause: loading }))).toBe(true);
    expect(isTransientGroupAnswer(new Error('Topic authorization failed'))).toBe(false);
    expect(isTransientGroupAnswer(undefined)).toBe(false);
  });
});
