/**
 * Publishes appended events to Kafka after the append transaction commits. Keyed by
 * `tenant_id:bet_id`, so every event of a bet lands in one partition, in order. The producer is
 * idempotent with acks=all: a retried send does not duplicate a message in the log.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { DEFAULT_KAFKA_COMPRESSION, type KafkaCompression } from '../config.js';
import { COMPRESSION, installCodecs } from './codecs/index.js';
import { betKey, toEnvelopeJson, type BetEvent } from '../events/types.js';

export interface EventPublisher {
  publish(events: readonly BetEvent[]): Promise<void>;
  close(): Promise<void>;
}

export function encodeEvent(event: BetEvent): { key: string; value: string; timestamp: string } {
  return {
    key: betKey(event.tenantId, event.aggregateId),
    value: JSON.stringify(toEnvelopeJson(event)),
    timestamp: String(event.timestamp),
  };
}

export function createKafkaPublisher(
  kafka: Kafka,
  topic: string,
  options: { compression?: KafkaCompression } = {},
): EventPublisher {
  installCodecs();
  const compression = COMPRESSION[options.compression ?? DEFAULT_KAFKA_COMPRESSION];
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;

  function connected(): Promise<Producer> {
    if (producer) return Promise.resolve(producer);
    connecting ??= (async () => {
      const p = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      try {
        await p.connect();
      } catch (error) {
        connecting = undefined;
        throw error;
      }
      producer = p;
      return p;
    })();
    return connecting;
  }

  return {
    async publish(events) {
      if (events.length === 0) return;
      const p = await connected();
      await p.send({
        topic,
        acks: -1,
        compression,
        messages: events.map(encodeEvent),
      });
    },
    async close() {
      const p = producer ?? (connecting ? await connecting.catch(() => undefined) : undefined);
      producer = undefined;
      connecting = undefined;
      await p?.disconnect();
    },
  };
}

/** For deployments where change-data-capture publishes, and for tests: publishing switched off. */
export const noPublisher: EventPublisher = {
  async publish() {},
  async close() {},
};
