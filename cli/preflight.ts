/**
 * Connects once to each service a command needs before it starts work, so wrong credentials,
 * certificates or TLS settings fail at start with one line naming the setting (exit 2), instead of
 * surfacing later as retries.
 */
import { ConfigError } from '../src/configEnv.js';
import { detectDialect } from '../src/db/platform.js';
import type { Pool } from '../src/db/pool.js';
import { createKafka, type KafkaSettings } from '../src/kafka/client.js';
import { silentLogger, type Logger } from '../src/observability/logger.js';
import { explainConnectionError } from '../src/security/connectionErrors.js';

/** Also tells the pool which dialect (PostgreSQL's or Citus's) its statements take. */
export async function checkDatabase(pool: Pool): Promise<void> {
  try {
    await detectDialect(pool);
  } catch (error) {
    const advice = explainConnectionError(error, 'database');
    throw advice ? new ConfigError(advice) : error;
  }
}

/** With `topic`, also that it exists (the worker cannot consume a topic nobody created). */
export async function checkKafka(config: KafkaSettings, logger: Logger, topic?: string): Promise<void> {
  // One attempt, no backoff: a misconfiguration should not take kafkajs's full retry budget to show.
  // kafkajs's own error lines would only repeat the one line this check fails with (unless debugging).
  const quiet = logger.isLevelEnabled('debug') ? logger : silentLogger;
  const admin = createKafka(config, quiet, { retries: 1 }).admin();
  let topics: string[] = [];
  try {
    await admin.connect();
    await admin.describeCluster();
    if (topic !== undefined) topics = await admin.listTopics();
  } catch (error) {
    const advice = explainConnectionError(error, 'kafka');
    throw advice ? new ConfigError(advice) : error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (topic !== undefined && !topics.includes(topic)) {
    throw new ConfigError(
      `KAFKA_TOPIC "${topic}" does not exist on ${config.kafkaBrokers.join(',')} (projector migrate creates it)`,
    );
  }
}
