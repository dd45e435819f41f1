import { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, type Consumer } from 'kafkajs';
import { watchGroup } from '../../consumers/consumerGroup.js';
import { askedAStaleCoordinator } from '../../src/kafka/client.js';
import type { WorkerStats } from '../../consumers/flushStats.js';
import { recordingLogger } from '../support/recordingLogger.js';

/** A consumer that only records its listeners, so a test can raise kafkajs's CRASH event. */
function crashingConsumer() {
  const listeners = new Map<string, (event: unknown) => void>();
  const events = {
    GROUP_JOIN: 'join',
    REBALANCING: 'rebalancing',
    FETCH_START: 'fetch',
    HEARTBEAT: 'hb',
    CRASH: 'crash',
  };
  const consumer = { events, on: (name: string, fn: (e: unknown) => void) => listeners.set(name, fn) };
  const crash = (error: Error, restart: boolean) => listeners.get('crash')!({ payload: { error, restart } });
  return { consumer: consumer as unknown as Consumer, crash };
}

function watched() {
  const { logger, lines } = recordingLogger();
  const fatal: Error[] = [];
  const { consumer, crash } = crashingConsumer();
  watchGroup(consumer, {
    stats: { lastActivityAt: 0 } as WorkerStats,
    logger,
    onJoin: () => undefined,
    onFatal: (error) => fatal.push(error),
  });
  return { lines, fatal, crash };
}

// kafkajs's own errors, as its protocol decoder builds them (COORDINATOR_LOAD_IN_PROGRESS is code 14).
const loading = () =>
  new KafkaJSProtocolError({
    message: "The coordinator is loading and hence can't process requests for this group",
    type: 'COORDINATOR_LOAD_IN_PROGRESS',
    code: 14,
    retriable: true,
  } as never);

describe('what a consumer crash means to the worker', () => {
  it('a coordinator still loading, restarted by kafkajs, is one info line: the group’s ordinary wait', () => {
    const { lines, fatal, crash } = watched();
    crash(new KafkaJSNumberOfRetriesExceeded(loading(), { retryCount: 5, retryTime: 100 }), true);
    expect(lines).toEqual([['info', 'the group coordinator is not ready yet; rejoining']]);
    expect(fatal).toEqual([]);
  });

  it('another crash kafkajs restarts from is a warning; one it does not is an error and stops the worker', () => {
    const { lines, fatal, crash } = watched();
    crash(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), true);
    const gone = new Error('Topic authorization failed');
    crash(gone, false);
    expect(lines.map(([level]) => level)).toEqual(['warn', 'error']);
    expect(fatal).toEqual([gone]);
  });
});

describe('an offset commit that asked a stale coordinator', () => {
  it("is known through kafkajs's exhausted retries, and nothing else is taken for it", () => {
    const stale = new KafkaJSProtocolError({
      type: 'NOT_COORDINATOR_FOR_GROUP',
      code: 16,
      retriable: true,
      message: 'This is not the correct coordinator for this group',
    } as never);
    const exhausted = new KafkaJSNumberOfRetriesExceeded(stale, { retryCount: 20, retryTime: 5_000 });
    expect(askedAStaleCoordinator(exhausted)).toBe(true);
    const rebalancing = new KafkaJSProtocolError({
      type: 'REBALANCE_IN_PROGRESS',
      code: 27,
      retriable: false,
      message: 'The group is rebalancing, so a rejoin is needed',
    } as never);
    expect(
      askedAStaleCoordinator(
        new KafkaJSNumberOfRetriesExceeded(rebalancing, { retryCount: 1, retryTime: 1 }),
      ),
    ).toBe(false);
    expect(askedAStaleCoordinator(new Error('This is not the correct coordinator for this group'))).toBe(
      false,
    );
  });
});
