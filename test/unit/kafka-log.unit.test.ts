import { logLevel } from 'kafkajs';
import { isTransientGroupAnswer, kafkaLogCreator } from '../../src/kafka/client.js';
import { failoverEpisodes } from '../../src/kafka/failovers.js';
import { lostItsSequence } from '../../src/kafka/publisher.js';
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

  it('a broker lost and regained is one warning per broker and episode, saying what it means; the retries are debug; other errors stay errors', () => {
    const { logger, lines } = recording();
    let now = 0;
    const log = kafkaLogCreator(
      logger,
      failoverEpisodes(60_000, () => now),
    )(logLevel.INFO);
    const entry = (message: string, extra: Record<string, string> = {}) =>
      log({
        namespace: 'Connection',
        level: logLevel.ERROR,
        label: 'ERROR',
        log: { message, timestamp: '', ...extra },
      });
    // 72 refused connections to one broker while it is down, interleaved with another broker's.
    for (let i = 0; i < 72; i++) {
      now += 250;
      entry('Connection error: connect ECONNREFUSED 127.0.0.1:9093', { broker: '127.0.0.1:9093' });
      if (i % 24 === 0)
        entry('Response Produce(key: 0, version: 7)', {
          broker: '127.0.0.1:9094',
          error: 'This server is not the leader for that topic-partition',
        });
    }
    entry('Response Produce(key: 0, version: 7)', { error: 'SASL Authentication failed' });
    // Back for a while, then down again: a new episode.
    now += 61_000;
    entry('Connection error: connect ECONNREFUSED 127.0.0.1:9093', { broker: '127.0.0.1:9093' });
    const above = lines.filter(([level]) => level !== 'debug');
    expect(above.map(([level]) => level)).toEqual(['warn', 'warn', 'error', 'warn']);
    expect(above[0]![1]).toContain('Kafka failover at 127.0.0.1:9093: the broker is unreachable');
    expect(above[1]![1]).toContain('Kafka failover at 127.0.0.1:9094: a partition leader moved');
    expect(above[2]![1]).toBe('Response Produce(key: 0, version: 7)');
    expect(lines.filter(([level]) => level === 'debug')).toHaveLength(71 + 2);
  });

  it('a producer whose sequence the broker refused is recognised however kafkajs wraps it (tulios/kafkajs#598)', () => {
    const refused = Object.assign(new Error('The broker received an out of order sequence number'), {
      name: 'KafkaJSProtocolError',
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
    expect(lostItsSequence(refused)).toBe(true);
    expect(lostItsSequence(new Error('retries exceeded', { cause: refused }))).toBe(true);
    expect(
      lostItsSequence(Object.assign(new Error('x'), { originalError: { type: 'UNKNOWN_PRODUCER_ID' } })),
    ).toBe(true);
    expect(lostItsSequence(Object.assign(new Error('x'), { type: 'NOT_LEADER_FOR_PARTITION' }))).toBe(false);
    expect(lostItsSequence(undefined)).toBe(false);
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
