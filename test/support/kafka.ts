/** Each test file gets its own topics and consumer groups on the real broker. */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopic } from '../../src/kafka/topics.js';
import { requiredEnv } from './db.js';

export function testKafka(): Kafka {
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

/** Reads every message currently on the topic. */
export async function readAll(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 20_000,
): Promise<Array<{ key: string | null; value: string | null; partition: number }>> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: Array<{ key: string | null; value: string | null; partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${seen.length} of ${expected} messages from ${topic}`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          seen.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            partition,
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
