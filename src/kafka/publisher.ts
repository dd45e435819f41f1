/**
 * Publishes appended events to Kafka after the append transaction commits. Keyed by
 * `tenant_id:bet_id`, so every event of a bet lands in one partition, in order. The producer is
 * idempotent with acks=all: a retried send does not duplicate a message in the log.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { DEFAULT_KAFKA_COMPRESSION, type KafkaCompression } from '../config.js';
import { COMPRESSION, installCodecs } from './codecs/index.js';
import { betKey, toEnvelopeJson, type BetEvent } from '../events/types.js';
import { SpanKind, contextHeaders, inSpan } from '../observability/tracing.js';

/** The longest close() waits for a send in flight and the producer's disconnect. */
export const CLOSE_DRAIN_MS = 5_000;

export interface EventPublisher {
  publish(events: readonly BetEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** `headers`: the trace context of the send (W3C traceparent), when traces are on. */
export function encodeEvent(
  event: BetEvent,
  headers?: Readonly<Record<string, string>>,
): { key: string; value: string; timestamp: string; headers?: Record<string, string> } {
  return {
    key: betKey(event.tenantId, event.aggregateId),
    value: JSON.stringify(toEnvelopeJson(event)),
    timestamp: String(event.timestamp),
    ...(headers && Object.keys(headers).length > 0 && { headers: { ...headers } }),
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

  async function dropProducer(): Promise<void> {
    const old = producer;
    producer = undefined;
    connecting = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  // Publishes that arrive while a request is in flight wait and leave together in the next one:
  // the idempotent producer keeps one request in flight, so concurrent appends (immediate mode
  // behind an API) would otherwise queue one broker round trip each. Each caller hears of its own
  // events' fate. A request refused for what it carries (a record too large, say) is sent again
  // publish by publish, so one caller's events fail no other's; a request that failed for the
  // cluster (retries exhausted, no connection) fails every publish it carried — each caller's
  // retry sends its own again, and the view's version guard makes a second copy change nothing.
  let queued: Pending[] = [];
  let sending: Promise<void> | undefined;

  function sendQueued(): void {
    if (sending || queued.length === 0) return;
    const carried = takeRequest(queued);
    queued = queued.slice(carried.length);
    sending = (async () => {
      const send = async (messages: Message[]) => {
        const p = await connected();
        await p.send({ topic, acks: -1, compression, messages });
      };
      try {
        await send(carried.flatMap((c) => c.messages));
        for (const c of carried) c.resolve();
      } catch (error) {
        // kafkajs's idempotent producer does not recover once the broker has refused its sequence
        // (after a failover; tulios/kafkajs#598): drop it, and the callers' retries go out through a
        // new one, with a producer id of its own. A message the old one did persist may then be in
        // the log twice, which the view's version guard makes harmless.
        if (lostItsSequence(error)) void dropProducer();
        if (carried.length === 1 || !refusedForItsRecords(error)) for (const c of carried) c.reject(error);
        else for (const c of carried) await send([...c.messages]).then(c.resolve, c.reject);
      } finally {
        sending = undefined;
        sendQueued();
      }
    })();
  }

  return {
    async publish(events) {
      if (events.length === 0) return;
      // One producer span per publish; each message carries its context, for the flush to link to.
      return inSpan(
        `send ${topic}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'send',
            'messaging.destination.name': topic,
            'messaging.batch.message_count': events.length,
          },
        },
        () => {
          const headers = contextHeaders();
          const messages = events.map((e) => encodeEvent(e, headers));
          return new Promise<void>((resolve, reject) => {
            queued.push({ messages, bytes: messageBytes(messages), resolve, reject });
            sendQueued();
          });
        },
      );
    },
    async close() {
      // A send an append gave up on at its deadline may be retrying, or still connecting to a
      // broker that does not answer, for minutes; its events are stored and the sweep projects
      // them, so closing waits for it only so long.
      const closing = (async () => {
        while (sending) await sending;
        const p = producer ?? (connecting ? await connecting.catch(() => undefined) : undefined);
        producer = undefined;
        connecting = undefined;
        await p?.disconnect();
      })();
      closing.catch(() => undefined);
      await Promise.race([closing, sleep(CLOSE_DRAIN_MS, undefined, { ref: false })]);
    },
  };
}

type Message = ReturnType<typeof encodeEvent>;

interface Pending {
  readonly messages: readonly Message[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * What one request carries, in arrival order: a merged request stays below the broker's default
 * message.max.bytes (1 MiB, checked before compression); the first publish always goes, whatever
 * its size, as it would alone.
 */
export const MERGED_REQUEST_BYTES = 512 * 1024;

function takeRequest(queued: readonly Pending[]): Pending[] {
  const taken: Pending[] = [];
  let bytes = 0;
  for (const p of queued) {
    if (taken.length > 0 && bytes + p.bytes > MERGED_REQUEST_BYTES) break;
    taken.push(p);
    bytes += p.bytes;
  }
  return taken;
}

function messageBytes(messages: readonly Message[]): number {
  let bytes = 0;
  for (const m of messages) {
    bytes += Buffer.byteLength(m.key) + Buffer.byteLength(m.value) + 32;
    for (const [name, value] of Object.entries(m.headers ?? {})) bytes += name.length + value.length + 8;
  }
  return bytes;
}

/**
 * The broker refused the request for what it carries (a protocol error that retrying cannot cure:
 * MESSAGE_TOO_LARGE, INVALID_RECORD, …), not for the state of the cluster. kafkajs's retrier hands
 * it on as the cause of a KafkaJSNonRetriableError.
 */
function refusedForItsRecords(error: unknown): boolean {
  for (let e = error as KafkaError | undefined, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e.name === 'KafkaJSProtocolError') return e.retriable === false;
  }
  return false;
}

interface KafkaError {
  readonly name?: string;
  readonly type?: string;
  readonly retriable?: boolean;
  readonly cause?: KafkaError;
  readonly originalError?: KafkaError;
}

/** The broker no longer accepts this producer's sequence: only a new producer id sends again. */
const LOST_SEQUENCE = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

export function lostItsSequence(error: unknown): boolean {
  for (
    let e = error as KafkaError | undefined, depth = 0;
    e && depth < 5;
    e = e.cause ?? e.originalError, depth++
  ) {
    if (e.type !== undefined && LOST_SEQUENCE.has(e.type)) return true;
  }
  return false;
}
/** For deployments where change-data-capture publishes, and for tests: publishing switched off. */
export const noPublisher: EventPublisher = {
  async publish() {},
  async close() {},
};
