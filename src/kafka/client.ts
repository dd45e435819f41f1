import {
  Kafka,
  logLevel as KafkaLogLevel,
  type KafkaConfig,
  type logCreator,
  type SASLOptions,
} from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { installCodecs } from './codecs/index.js';
import { failoverEpisodes, failoverMeaning } from './failovers.js';

/**
 * Broker answers that are part of a group's normal life — the coordinator still loading, a
 * rebalance in progress — which kafkajs logs at error level on every occurrence and then retries.
 * Logged at debug: a real failure still surfaces, as the consumer's crash or an exhausted retry.
 */
const TRANSIENT_GROUP_ANSWERS = [
  'The group coordinator is not available',
  'The coordinator is loading and hence can',
  'This is not the correct coordinator for this group',
  'The group is rebalancing, so a rejoin is needed',
  'Specified group generation id is not valid',
];

/**
 * Whether `error` (or an error it wraps, as kafkajs's "retries exceeded" does) is one of the
 * transient group answers: the group's coordinator is not ready yet, and rejoining heals it.
 */
export function isTransientGroupAnswer(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { message, originalError, cause } = e as {
      message?: unknown;
      originalError?: unknown;
      cause?: unknown;
    };
    if (typeof message === 'string' && TRANSIENT_GROUP_ANSWERS.some((t) => message.includes(t))) return true;
    e = originalError ?? cause;
  }
  return false;
}

/**
 * kafkajs kept asking a group coordinator that is no longer one (tulios/kafkajs#1069: its consumer
 * refreshes metadata on NOT_COORDINATOR but commits to the broker it cached at the join): only a
 * new consumer, joining afresh, finds the new one.
 */
export function askedAStaleCoordinator(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { type, originalError, cause } = e as { type?: unknown; originalError?: unknown; cause?: unknown };
    if (type === 'NOT_COORDINATOR_FOR_GROUP') return true;
    e = originalError ?? cause;
  }
  return false;
}

/**
 * The consumer's own crash report ("Crash: …", then "Restarting the consumer in …"): the worker
 * reports each crash once, at the level it deserves, from the consumer's CRASH event.
 */
const CONSUMER_CRASH_REPORT = /^(Crash: |Restarting the consumer in )/;

/** kafkajs logs through our JSON logger, at warn and above unless debugging. */
export function kafkaLogCreator(logger: Logger, episodes = failoverEpisodes()): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      const child = { stage: 'kafkajs', ...extra };
      // We bound retries on purpose (an outage must surface as an error, not a hung append);
      // kafkajs warns about that on every producer start.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const answer = typeof extra['error'] === 'string' ? extra['error'] : '';
      if (TRANSIENT_GROUP_ANSWERS.some((t) => answer.startsWith(t)) || CONSUMER_CRASH_REPORT.test(message)) {
        logger.debug(child, message);
        return;
      }
      // A broker lost and regained, a leader moved: once per broker and episode, at warn.
      const meaning = level <= KafkaLogLevel.WARN ? failoverMeaning(`${message} ${answer}`) : undefined;
      if (meaning !== undefined) {
        const broker = typeof extra['broker'] === 'string' ? extra['broker'] : 'the cluster';
        if (episodes.opens(broker)) {
          logger.warn(
            { ...child, failover: meaning },
            `Kafka failover at ${broker}: ${meaning} (${message}); kafkajs reconnects and retries, and the rest of this episode is logged at debug`,
          );
        } else logger.debug(child, message);
        return;
      }
      if (level <= KafkaLogLevel.ERROR) logger.error(child, message);
      else if (level === KafkaLogLevel.WARN) logger.warn(child, message);
      else if (level === KafkaLogLevel.INFO) logger.debug(child, message);
    };
}

export type KafkaSettings = Pick<
  Config,
  'kafkaBrokers' | 'kafkaClientId' | 'retryInitialMs' | 'retryMaxMs' | 'kafkaSsl' | 'kafkaSasl'
>;

/** kafkajs's `ssl` and `sasl` options from the validated settings. */
export function securityOptions(
  config: Pick<Config, 'kafkaSsl' | 'kafkaSasl'>,
): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const tls = config.kafkaSsl;
  const ssl: ConnectionOptions | undefined = tls
    ? {
        rejectUnauthorized: true,
        ...(tls.ca !== undefined && { ca: [tls.ca] }),
        ...(tls.cert !== undefined && { cert: tls.cert }),
        ...(tls.key !== undefined && { key: tls.key }),
        ...(tls.keyPassphrase !== undefined && { passphrase: tls.keyPassphrase }),
      }
    : undefined;
  const sasl = config.kafkaSasl;
  const saslOptions: SASLOptions | undefined = sasl
    ? { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password }
    : undefined;
  return { ...(ssl && { ssl }), ...(saslOptions && { sasl: saslOptions }) };
}

export function createKafka(
  config: KafkaSettings,
  logger: Logger,
  options: { retries?: number } = {},
): Kafka {
  installCodecs();
  return new Kafka({
    clientId: config.kafkaClientId,
    brokers: [...config.kafkaBrokers],
    ...securityOptions(config),
    logLevel: logger.isLevelEnabled('debug') ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    connectionTimeout: 3_000,
    retry: {
      initialRetryTime: config.retryInitialMs,
      maxRetryTime: config.retryMaxMs,
      retries: options.retries ?? 8,
    },
  });
}
