/** The process-wide pieces a command needs, created once and closed in reverse order. */
import type { Kafka } from 'kafkajs';
import { describeConfig, loadConfig, type Config } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createKafka } from '../src/kafka/client.js';
import { createKafkaPublisher, noPublisher, type EventPublisher } from '../src/kafka/publisher.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { createEventStore, type EventStore } from '../src/store/eventStore.js';
import { checkDatabase, checkKafka } from './preflight.js';
import { inlineProjection } from '../projections/registry.js';

export interface ConnectionChecks {
  readonly kafka?: boolean;
  readonly topic?: boolean;
}

export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly pool: Pool;
  readonly kafka: Kafka;
  publisher(): EventPublisher;
  /** The event store, retrying transient faults within RETRY_* and saying so on stderr. */
  eventStore(signal?: AbortSignal): EventStore;
  /**
   * Connects to PostgreSQL, and to Kafka when `kafka` (default: when publishing), or fails with one
   * line; `topic` also requires KAFKA_TOPIC to exist.
   */
  checkConnections(options?: ConnectionChecks): Promise<void>;
  close(): Promise<void>;
}

export function createRuntime(command: string, overrides: Partial<Record<string, string>> = {}): Runtime {
  const config = loadConfig({ ...process.env, ...overrides });
  // Logs go to stderr so that a command's own output (tables, JSON) stays clean on stdout.
  const logger = createLogger(config.logLevel, process.stderr).child({ command });
  logger.debug({ config: describeConfig(config) }, 'config');
  const pool = createPool(config, `bet-projector:${command}`);
  const kafka = createKafka(config, logger);
  let publisher: EventPublisher | undefined;
  return {
    config,
    logger,
    pool,
    kafka,
    publisher() {
      publisher ??= config.publishEvents
        ? createKafkaPublisher(kafka, config.topic, { compression: config.kafkaCompression })
        : noPublisher;
      return publisher;
    },
    eventStore(signal?: AbortSignal) {
      const policy = {
        initialMs: config.retryInitialMs,
        maxMs: config.retryMaxMs,
        maxAttempts: config.retryMaxAttempts,
      };
      return createEventStore({
        pool,
        publisher: this.publisher(),
        inline: inlineProjection,
        groupCommit: {
          maxTransactions: config.appendMaxTransactions,
          maxEvents: config.appendGroupMaxEvents,
          onGroupFailed: (error, appends) =>
            logger.warn(
              { appends, reason: (error as Error).message },
              `append: a transaction shared by ${appends} appends failed (${(error as Error).message}); storing each alone`,
            ),
        },
        retry: {
          policy,
          publishDeadlineMs: config.publishDeadlineMs,
          ...(signal && { signal }),
          onRetry: (step, error, attempt, delayMs) =>
            logger.warn(
              { step, attempt, delayMs, reason: (error as Error).message },
              `append: ${step} failed (${(error as Error).message}); retrying in ${delayMs} ms, attempt ${attempt + 1} of ${policy.maxAttempts}`,
            ),
          onAbandoned: (step, error) =>
            error === undefined
              ? logger.info({ step }, `append: the ${step} given up at its deadline succeeded later`)
              : logger.warn(
                  { step, reason: (error as Error).message },
                  `append: the ${step} given up at its deadline failed later (${(error as Error).message}); its events are stored, and the sweep projects them`,
                ),
        },
      });
    },
    async checkConnections(options = {}) {
      await checkDatabase(pool);
      if (options.kafka ?? config.publishEvents) {
        await checkKafka(config, logger, options.topic ? config.topic : undefined);
      }
    },
    async close() {
      await publisher?.close();
      await pool.end();
    },
  };
}

/** createRuntime, then the connection check; closes what it opened if the check fails. */
export async function openRuntime(
  command: string,
  options: ConnectionChecks & { overrides?: Partial<Record<string, string>> } = {},
): Promise<Runtime> {
  const { overrides, ...checks } = options;
  const runtime = createRuntime(command, overrides);
  try {
    await runtime.checkConnections(checks);
    return runtime;
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
