/**
 * Every Kafka codec against a real broker and a client that is not kafkajs (the Java client):
 * batches it writes with gzip, snappy, lz4 and zstd are read through our codecs, and batches the
 * publisher writes with each are read by it. Then a batch corrupted on the broker's disk: the
 * worker dead-letters its records with the batch's coordinates, counts it, moves on, and `repair`
 * brings its bets to the view from the store.
 */
import { existsSync, openSync, readSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { KAFKA_COMPRESSIONS, type KafkaCompression } from '../../src/config.js';
import { decodedBatchCounts } from '../../src/kafka/codecs/index.js';
import { createKafkaPublisher, encodeEvent } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { inlineProjection } from '../../projections/registry.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { javaConsume, javaProduce } from '../support/javaClient.js';
import { createTopic, readAll, testKafka, uniqueName } from '../support/kafka.js';
import { betsBehind } from '../../projections/bets/verify.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { viewMismatches } from '../support/oracle.js';
import { startWorker, untilCaughtUp, workerConfig } from '../support/worker.js';

const stream = (events: number) => [...simulateEvents({ seed: 13, events, tenants: 3, openBets: 20 })];

const CODECS = KAFKA_COMPRESSIONS.filter((c): c is Exclude<KafkaCompression, 'none'> => c !== 'none');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('Kafka codecs with a real broker and the Java client', () => {
  let kafka: Kafka;
  beforeAll(() => {
    kafka = testKafka();
  });

  it.each(CODECS)('%s: batches the Java client writes are read through our codec', async (codec) => {
    const topic = await createTopic(kafka, `java-${codec}`, 3);
    const values = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify({ i, note: `record ${i} `.repeat(i % 20) }),
    );
    const before = decodedBatchCounts().get(codec) ?? 0;
    await javaProduce(
      topic,
      codec,
      values.map((value, i) => ({ key: `k${i % 37}`, value })),
    );
    const read = await readAll(kafka, topic, values.length);
    expect(read.map((m) => m.value).sort()).toEqual([...values].sort());
    // The broker kept the producer's codec, and ours decoded it.
    expect((decodedBatchCounts().get(codec) ?? 0) - before).toBeGreaterThan(0);
  });

  it.each(CODECS)('%s: what the publisher writes is read by the Java client', async (codec) => {
    const topic = await createTopic(kafka, `pub-${codec}`, 3);
    const events = stream(300);
    const publisher = createKafkaPublisher(kafka, topic, { compression: codec });
    try {
      await publisher.publish(events);
    } finally {
      await publisher.close();
    }
    const read = await javaConsume(topic, events.length);
    expect(read.map((r) => r.value).sort()).toEqual(events.map((e) => encodeEvent(e).value).sort());
  });
});

/** The local stack's broker data folder, when the tests run against it. */
function localKafkaData(): string | undefined {
  if (requiredEnv('KAFKA_BROKERS') !== `127.0.0.1:${process.env['KAFKA_PORT'] ?? '9092'}`) return undefined;
  const dir = execFileSync('bash', [path.join(ROOT, 'scripts/stack.sh'), 'datadir'], {
    encoding: 'utf8',
  }).trim();
  return existsSync(dir) ? dir : undefined;
}

/** Overwrites 16 bytes in the middle of the first record batch's records, in the segment file. */
function corruptFirstBatch(dataDir: string, topic: string): void {
  const folder = path.join(dataDir, `${topic}-0`);
  const segment = readdirSync(folder).find((f) => f.endsWith('.log'));
  if (!segment) throw new Error(`no log segment in ${folder}`);
  const fd = openSync(path.join(folder, segment), 'r+');
  try {
    const header = Buffer.alloc(61);
    readSync(fd, header, 0, 61, 0);
    const batchEnd = 12 + header.readInt32BE(8);
    const middle = Math.floor((61 + batchEnd) / 2);
    writeSync(fd, Buffer.alloc(16, 0xa5), 0, 16, middle - 8);
  } finally {
    closeSync(fd);
  }
}

const dataDir = localKafkaData();
(dataDir ? describe : describe.skip)('a record batch corrupted on the broker (local stack)', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  beforeAll(async () => {
    db = await createTestDatabase();
    kafka = testKafka();
  });
  afterAll(async () => db.drop());

  it('is dead-lettered record by record with its coordinates, counted, and the partition moves on; repair heals its bets', async () => {
    const topic = await createTopic(kafka, 'corrupt', 1);
    const events = stream(400);
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    await store.append(events);
    // Two batches: the first is corrupted on disk after the broker accepted it.
    const publisher = createKafkaPublisher(kafka, topic, { compression: 'lz4' });
    try {
      await publisher.publish(events.slice(0, 150));
      await publisher.publish(events.slice(150));
    } finally {
      await publisher.close();
    }
    corruptFirstBatch(dataDir!, topic);
    const config = workerConfig(topic, uniqueName('g'));
    const running = startWorker(db.workerPool, kafka, config);
    try {
      await untilCaughtUp(db.pool, kafka, config, running);
    } finally {
      await running.stop();
    }
    const { rows } = await db.pool.query<{ kafka_offset: number; reason: string; raw: number | null }>(
      `SELECT kafka_offset::int AS kafka_offset, reason, length(payload) AS raw FROM dead_letters WHERE topic = $1 ORDER BY kafka_offset`,
      [topic],
    );
    expect(rows.map((r) => Number(r.kafka_offset))).toEqual([...Array(150).keys()]);
    expect(rows[0]!.reason).toMatch(
      /^undecodable record batch \(lz4, offsets 0\.\.149, 150 records\): .*\(the batch's CRC does not match: it is corrupt\)$/,
    );
    expect(rows[0]!.raw).toBeGreaterThan(0);
    expect(rows.slice(1).every((r) => r.raw === null)).toBe(true);
    const counted = await running.metrics.undecodableBatches.get();
    expect(counted.values).toEqual([{ labels: { topic, partition: 0, codec: 'lz4' }, value: 1 }]);
    // The second batch was projected; the first batch's bets lag until repair.
    expect(await betsBehind(db.pool)).toBeGreaterThan(0);
    execFileSync('node', [path.join(ROOT, 'dist/cli/main.js'), 'repair'], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'error' },
      stdio: 'pipe',
    });
    expect(await betsBehind(db.pool)).toBe(0);
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});
