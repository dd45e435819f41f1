import { Kafka, logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';

/** kafkajs logs through our JSON logger, at warn and above unless debugging. */
function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      const child = { stage: 'kafkajs', ...extra };
      // We bound retries on purpose (an outage must surface as an error, not a hung append);
      // kafkajs warns about that on every producer start.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      if (level <= KafkaLogLevel.ERROR) logger.error(child, message);
      else if (level === KafkaLogLevel.WARN) logger.warn(child, message);
      else if (level === KafkaLogLevel.INFO) logger.debug(child, message);
    };
}

export function createKafka(
  config: Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'retryInitialMs' | 'retryMaxMs'>,
  logger: Logger,
): Kafka {
  return new Kafka({
    clientId: config.kafkaClientId,
    brokers: [...config.kafkaBrokers],
    logLevel: logger.isLevelEnabled('debug') ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    connectionTimeout: 3_000,
    retry: { initialRetryTime: config.retryInitialMs, maxRetryTime: config.retryMaxMs, retries: 8 },
  });
}
