import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { classifyError } from '../../src/errors.js';

describe('classifyError', () => {
  it.each([
    [{ code: '40001' }, 'retryable'],
    [{ code: '40P01' }, 'retryable'],
    [{ code: '08006' }, 'retryable'],
    [{ code: 'ECONNREFUSED' }, 'retryable'],
    [{ code: '23505' }, 'bad_input'],
    [{ code: '22P02' }, 'bad_input'],
    [{ code: '28P01' }, 'fatal'],
    [{ code: '42501' }, 'fatal'],
    [{ code: '42P01' }, 'fatal'],
    [new Error('Connection terminated unexpectedly'), 'retryable'],
    [new Error('something else'), 'fatal'],
  ])('%j is %s', (error, kind) => {
    expect(classifyError(error)).toBe(kind);
  });

  it.each([
    ['failure on connection marked as essential: 127.0.0.1:9702', 'XX000', 'remote_transaction.c'],
    ['SSL SYSCALL error: EOF detected', 'XX000', 'remote_commands.c'],
    ['failed to COPY to shard 102075 on 127.0.0.1:9702', '58030', 'multi_copy.c'],
  ])("retries Citus's report of a worker node lost under a statement: %s", (message, code, file) => {
    expect(classifyError({ code, message, file })).toBe('retryable');
  });

  it('keeps the same codes fatal from anywhere else (a local disk, PostgreSQL itself)', () => {
    expect(classifyError({ code: '58030', message: 'could not read block 7', file: 'md.c' })).toBe('fatal');
    expect(classifyError({ code: 'XX000', message: 'cache lookup failed', file: 'lsyscache.c' })).toBe(
      'fatal',
    );
    expect(classifyError({ code: 'XX000', message: 'failure on connection marked as essential' })).toBe(
      'fatal',
    );
  });

  it("classifies kafkajs's retries-exceeded by the cause it wraps: a broker away is retried, a refusal is not", () => {
    const exceeded = (cause: Error) =>
      new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 300 });
    expect(
      classifyError(exceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))),
    ).toBe('retryable');
    const denied = new KafkaJSProtocolError({
      message: 'Topic authorization failed',
      type: 'TOPIC_AUTHORIZATION_FAILED',
      code: 29,
      retriable: false,
    } as never);
    expect(classifyError(exceeded(denied))).toBe('fatal');
    // The producer's "Failed to connect to seed broker": kafkajs's retrier, its own attempts spent,
    // wraps the connection failure as non-retriable with it as the cause (retry/index.js).
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error;
    expect(classifyError(new NonRetriable(refused, { cause: refused }))).toBe('retryable');
    expect(classifyError(new KafkaJSNonRetriableError('Invalid message'))).toBe('fatal');
  });
});
