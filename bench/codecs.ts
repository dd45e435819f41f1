/**
 * What each Kafka codec costs: the publisher's throughput and CPU with it (batches of 100, as the
 * append path publishes), the bytes of a typical 100-event batch, and one worker at the defaults
 * draining a topic written with it (end to end, peak RSS). Same events for every codec.
 */
import { KAFKA_COMPRESSIONS, type KafkaCompression } from '../src/config.js';
import type { BetEvent } from '../src/events/types.js';
import { lz4Compress } from '../src/kafka/codecs/lz4.js';
import { snappyCompress } from '../src/kafka/codecs/snappy.js';
import { zstdCompress } from '../src/kafka/codecs/zstd.js';
import { createKafkaPublisher, encodeEvent } from '../src/kafka/publisher.js';
import { ensureTopic } from '../src/kafka/topics.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { gzipSync } from 'node:zlib';
import { benchEndToEnd, type BenchContext, type EndToEndResult } from './parts.js';
import { figure, repeat, round1, type Figure } from './stats.js';

export interface CodecFigures {
  /** Events/s through the publisher, batches of 100, acks=all. */
  readonly publish: Figure;
  /** The publishing process's CPU per event (compression included), µs. */
  readonly publishCpuMicrosPerEvent: Figure;
  /** Bytes of the values of a typical 100-event batch, compressed. */
  readonly batchBytes: number;
  readonly endToEnd: EndToEndResult;
}

const BATCH = 100;

async function compressedBytes(codec: KafkaCompression, raw: Buffer): Promise<number> {
  switch (codec) {
    case 'none':
      return raw.length;
    case 'gzip':
      return gzipSync(raw).length;
    case 'snappy':
      return snappyCompress(raw).length;
    case 'lz4':
      return lz4Compress(raw).length;
    case 'zstd':
      return (await zstdCompress(raw)).length;
  }
}

/** Publishes `all` through the publisher in batches of 100, as the append path does. */
export async function publishAll(
  ctx: BenchContext,
  topic: string,
  codec: KafkaCompression,
  all: readonly BetEvent[],
) {
  const publisher = createKafkaPublisher(ctx.kafka, topic, { compression: codec });
  try {
    for (let i = 0; i < all.length; i += BATCH) await publisher.publish(all.slice(i, i + BATCH));
  } finally {
    await publisher.close();
  }
}

export async function benchCodecs(
  ctx: BenchContext,
  count: number,
): Promise<Record<KafkaCompression, CodecFigures>> {
  const all = [...simulateEvents({ seed: 900, events: count, tenants: 50, openBets: 5_000, now: Date.now })];
  const sample = Buffer.from(
    all
      .slice(0, BATCH)
      .map((e) => encodeEvent(e).value)
      .join(''),
  );
  const result: Partial<Record<KafkaCompression, CodecFigures>> = {};
  for (const codec of KAFKA_COMPRESSIONS) {
    const cpu: number[] = [];
    const publish = await repeat(ctx.runs, async (run) => {
      const scratch = `bench-codec-${codec}-${Date.now()}-${run}`;
      await ensureTopic(ctx.kafka, scratch, 6);
      const before = process.cpuUsage();
      const started = performance.now();
      await publishAll(ctx, scratch, codec, all);
      const ms = performance.now() - started;
      const used = process.cpuUsage(before);
      cpu.push(round1((used.user + used.system) / all.length));
      return Math.round((all.length / ms) * 1000);
    });
    const topic = `bench-codec-e2e-${codec}-${Date.now()}`;
    await ensureTopic(ctx.kafka, topic, 6);
    await publishAll(ctx, topic, codec, all);
    const endToEnd = await benchEndToEnd(ctx, topic, count, 1, { maxEvents: 100, intervalMs: 100 });
    result[codec] = {
      publish,
      publishCpuMicrosPerEvent: figure(cpu),
      batchBytes: await compressedBytes(codec, sample),
      endToEnd,
    };
    ctx.log(
      `codec ${codec}: publish ${publish.median} events/s, ${result[codec].publishCpuMicrosPerEvent.median} µs CPU/event, ` +
        `${result[codec].batchBytes} bytes per ${BATCH} events; one worker end to end ${endToEnd.eventsPerSecond.median} events/s`,
    );
  }
  return result as Record<KafkaCompression, CodecFigures>;
}
