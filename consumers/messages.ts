/**
 * A Kafka message becomes either an event to project or a dead letter, never an exception: a bad
 * message must not stall its partition.
 */
import { ValidationError, decodeEvent } from '../src/events/validate.js';
import type { BetEvent } from '../src/events/types.js';
import { undecodableBatchOf, type UndecodableBatch } from '../src/kafka/codecs/index.js';
import { sampledSpanOf, tracingEnabled, type SpanContext } from '../src/observability/tracing.js';

export interface KafkaPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface EventItem extends KafkaPosition {
  readonly kind: 'event';
  readonly event: BetEvent;
  /** The sampled send span its `traceparent` header names (traces on only): the flush links to it. */
  readonly producer?: SpanContext;
}

export interface DeadLetterItem extends KafkaPosition {
  readonly kind: 'dead';
  readonly key: string | null;
  readonly payload: Buffer | null;
  readonly tenantId: number | null;
  readonly reason: string;
  /** Set when the message stands for a record of a batch that did not decode (see codecs/). */
  readonly undecodable?: UndecodableBatch;
}

export type ConsumedItem = EventItem | DeadLetterItem;

export interface RawMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | Array<Buffer | string> | undefined>>;
}

/** The send span named by the message's `traceparent` header; read only while traces are on. */
function producerOf(message: RawMessage): SpanContext | undefined {
  if (!tracingEnabled()) return undefined;
  const header = message.headers?.['traceparent'];
  const first = Array.isArray(header) ? header[0] : header;
  return sampledSpanOf(first === undefined ? undefined : first.toString());
}

/** Best effort: the tenant of a message that failed validation, for filtering dead letters. */
function tenantOf(value: Buffer | null): number | null {
  if (!value) return null;
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    const tenant = (parsed as { tenant_id?: unknown } | null)?.tenant_id;
    return typeof tenant === 'number' && Number.isSafeInteger(tenant) && tenant > 0 ? tenant : null;
  } catch {
    return null;
  }
}

export function toConsumedItem(topic: string, partition: number, message: RawMessage): ConsumedItem {
  const position = { topic, partition, offset: Number(message.offset) };
  const undecodable = undecodableBatchOf(message.value);
  if (undecodable) {
    const { codec, firstOffset, lastOffset, records, reason } = undecodable;
    return {
      kind: 'dead',
      ...position,
      key: null,
      // The batch's compressed bytes once, with its first record; its other records point there.
      payload: message.offset === firstOffset ? undecodable.raw : null,
      tenantId: null,
      reason:
        `undecodable record batch (${codec}, offsets ${firstOffset}..${lastOffset}, ${records} records): ` +
        reason,
      undecodable,
    };
  }
  try {
    const event = decodeEvent(message.value);
    const producer = producerOf(message);
    return { kind: 'event', ...position, event, ...(producer && { producer }) };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return {
      kind: 'dead',
      ...position,
      key: message.key ? message.key.toString('utf8') : null,
      payload: message.value,
      tenantId: tenantOf(message.value),
      reason: error.message,
    };
  }
}

export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  readonly lastEventTimestamp: number | null;
}

/** Per partition: the offset after the last item, and the newest event timestamp. */
export function progressOf(items: readonly ConsumedItem[]): PartitionProgress[] {
  const byPartition = new Map<
    string,
    { topic: string; partition: number; nextOffset: number; ts: number | null }
  >();
  for (const item of items) {
    const key = `${item.topic}#${item.partition}`;
    const p = byPartition.get(key) ?? {
      topic: item.topic,
      partition: item.partition,
      nextOffset: 0,
      ts: null,
    };
    p.nextOffset = Math.max(p.nextOffset, item.offset + 1);
    if (item.kind === 'event') p.ts = Math.max(p.ts ?? 0, item.event.timestamp);
    byPartition.set(key, p);
  }
  return [...byPartition.values()].map((p) => ({
    topic: p.topic,
    partition: p.partition,
    nextOffset: p.nextOffset,
    lastEventTimestamp: p.ts,
  }));
}
