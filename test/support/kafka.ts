/** Each test file gets its own topics and consumer groups on the real broker. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { installCodecs } from '../../src/kafka/codecs/index.js';
import { ensureTopic } from '../../src/kafka/topics.js';
import { requiredEnv } from './db.js';

export function testKafka(): Kafka {
  installCodecs();
  return new Kafka({
    clientId: 'bet-projector-test',
    brokers: requiredEnv('KAFKA_BROKERS').split(','),
    logLevel: logLevel.NOTHING,
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function createTopic(kafka: Kafka, prefix: string, partitions = 3): Promise<string> {
  const topic = uniqueName(prefix);
  await ensureTopic(kafka, topic, partitions);
  return topic;
}

/** Writes raw messages, as any client could: the project's publisher is not involved. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  messages: Array<{ key: string | null; value: string | Buffer | null; partition?: number }>,
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

export interface ReadMessage {
  readonly key: string | null;
  readonly value: string | null;
  readonly partition: number;
  readonly headers: Record<string, string>;
}

/**
 * How many records each partition of the topic holds, from the broker's own log end offsets
 * (ListOffsets): no consumer group is involved. For a topic written without transactions, the sum
 * is the number of messages in it.
 */
export async function logEndOffsets(kafka: Kafka, topic: string): Promise<Record<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads every message currently on the topic. A reader that falls short says how many the log
 * holds, so a short log (the writer's fault) and a stalled reader tell themselves apart.
 */
export async function readAll(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 20_000,
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const short = `read ${seen.length} of ${expected} messages from ${topic}`;
        logEndOffsets(kafka, topic).then(
          (ends) => reject(new Error(`${short}; the log's end offsets: ${JSON.stringify(ends)}`)),
          (error: unknown) => reject(new Error(`${short}; its end offsets unknown: ${String(error)}`)),
        );
      }, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          seen.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            partition,
            headers: Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
            ),
          });
          if (seen.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** The broker's SASL_SSL listener and its credentials: from KAFKA_SASL_SSL_* or the local stack's files. */
export interface SaslSslListener {
  readonly brokers: string;
  readonly caFile: string;
  readonly username: string;
  readonly passwordFile: string;
}

export function saslSslListener(): SaslSslListener {
  const cache = process.env['BET_PROJECTOR_CACHE'] ?? path.join(homedir(), '.cache', 'bet-projector');
  const tls = path.join(cache, `run-${process.env['KAFKA_PORT'] ?? '9092'}`, 'tls');
  const listener = {
    brokers:
      process.env['KAFKA_SASL_SSL_BROKERS'] ?? `127.0.0.1:${process.env['KAFKA_SASL_SSL_PORT'] ?? '9094'}`,
    caFile: process.env['KAFKA_SASL_SSL_CA_FILE'] ?? path.join(tls, 'ca.pem'),
    username: process.env['KAFKA_SASL_SSL_USERNAME'] ?? 'projector',
    passwordFile: process.env['KAFKA_SASL_SSL_PASSWORD_FILE'] ?? path.join(tls, 'sasl-password'),
  };
  for (const file of [listener.caFile, listener.passwordFile]) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} is missing: the SASL_SSL tests need the listener \`npm run stack:up\` adds ` +
          '(or set KAFKA_SASL_SSL_BROKERS, KAFKA_SASL_SSL_CA_FILE, KAFKA_SASL_SSL_USERNAME, KAFKA_SASL_SSL_PASSWORD_FILE)',
      );
    }
  }
  return listener;
}
