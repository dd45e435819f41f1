/**
 * The codecs as kafkajs runs them: a record batch encoded by kafkajs's own encoder with each codec,
 * then decoded by kafkajs's own fetch decoder — and what a batch that does not decode turns into.
 * (Batches written by the Java client, for every codec, are read in test/int/codecs.int.test.ts.)
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import {
  COMPRESSION,
  installCodecs,
  undecodableBatchOf,
  type CompressionName,
} from '../../src/kafka/codecs/index.js';
import { lz4Compress, lz4Decompress } from '../../src/kafka/codecs/lz4.js';
import { snappyCompress, snappyDecompress } from '../../src/kafka/codecs/snappy.js';
import { zstdCompress, zstdDecompress } from '../../src/kafka/codecs/zstd.js';

// kafkajs's internals (2.2.4 is pinned exactly: its last release).
const require = createRequire(import.meta.url);
type Encoder = { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (o: object) => Promise<Encoder>;
};
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => Encoder;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (
  d: unknown,
) => Promise<Array<{ offset: string; key: Buffer | null; value: Buffer | null }>>;
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;

installCodecs();

const FIRST_OFFSET = 1_000;

function values(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ event_id: `e-${i}`, bet_id: `bet-${i % 17}`, stake: '12.50', note: 'x'.repeat(i % 50) }),
  );
}

/** One record batch as a broker returns it in a fetch response (size-prefixed), offsets from 1000. */
async function fetchedBatch(compression: number, vals: string[]): Promise<Buffer> {
  const records = vals.map((value, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: 0,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(value),
      headers: {},
    }),
  );
  const encoded = await RecordBatch({
    compression,
    firstOffset: Long.fromInt(FIRST_OFFSET),
    lastOffsetDelta: vals.length - 1,
    records,
  });
  return sizePrefixed(encoded.buffer);
}

function sizePrefixed(batch: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(batch.length, 0);
  return Buffer.concat([size, batch]);
}

const decode = (fetched: Buffer) => decodeMessages(new Decoder(fetched));

/** Byte positions in a fetched batch (after the 4-byte size prefix). */
const ATTRIBUTES = 4 + 21;
const CRC = 4 + 17;
const RECORDS = 4 + 61;

describe('compression codecs through kafkajs', () => {
  it.each(Object.keys(COMPRESSION) as CompressionName[])(
    '%s: a batch kafkajs encodes decodes to the same records at the same offsets',
    async (name) => {
      const vals = values(300);
      const messages = await decode(await fetchedBatch(COMPRESSION[name], vals));
      expect(messages.map((m) => m.value?.toString())).toEqual(vals);
      expect(messages.map((m) => Number(m.offset))).toEqual(vals.map((_, i) => FIRST_OFFSET + i));
      expect(messages.every((m) => undecodableBatchOf(m.value) === undefined)).toBe(true);
    },
  );

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
    '%s: a corrupt payload becomes one placeholder per record over the batch offsets, naming the codec and the CRC',
    async (name) => {
      const fetched = await fetchedBatch(COMPRESSION[name], values(40));
      // Overwrite the middle of the compressed records (keeps every length intact).
      const middle = RECORDS + Math.floor((fetched.length - RECORDS) / 2);
      fetched.fill(0xa5, middle - 8, middle + 8);
      const messages = await decode(fetched);
      expect(messages.map((m) => Number(m.offset))).toEqual(values(40).map((_, i) => FIRST_OFFSET + i));
      const batches = messages.map((m) => undecodableBatchOf(m.value));
      expect(new Set(batches).size).toBe(1);
      const batch = batches[0]!;
      expect(batch).toMatchObject({ codec: name, firstOffset: '1000', lastOffset: '1039', records: 40 });
      expect(batch.reason).toContain('CRC does not match: it is corrupt');
      expect(batch.raw.length).toBe(fetched.length - RECORDS);
    },
  );

  it('a codec id Kafka does not define becomes placeholders naming the id', async () => {
    const fetched = await fetchedBatch(COMPRESSION.lz4, values(5));
    fetched.writeInt16BE((fetched.readInt16BE(ATTRIBUTES) & ~0x07) | 6, ATTRIBUTES);
    fetched.writeUInt32BE(crc32C(fetched.subarray(ATTRIBUTES)), CRC);
    const messages = await decode(fetched);
    expect(messages).toHaveLength(5);
    const batch = undecodableBatchOf(messages[0]!.value)!;
    expect(batch.codec).toBe('unknown codec 6');
    expect(batch.reason).toBe(
      "compression codec id 6 is not one Kafka defines (the batch's CRC matches: it was written this way)",
    );
  });

  it('decompressed bytes that are not the declared records are caught before kafkajs reads them', async () => {
    const fetched = await fetchedBatch(COMPRESSION.gzip, values(10));
    // Declare 9 records where 10 were written; fix the CRC so only the count is wrong.
    fetched.writeInt32BE(9, RECORDS - 4);
    fetched.writeUInt32BE(crc32C(fetched.subarray(ATTRIBUTES)), CRC);
    const messages = await decode(fetched);
    // Nine placeholders; the last one carries the batch's last offset, so a commit passes it all.
    expect(messages.map((m) => Number(m.offset) - FIRST_OFFSET)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9]);
    expect(undecodableBatchOf(messages[0]!.value)!.reason).toMatch(
      /^decompressed records are malformed: \d+ bytes left after the 9 records the batch declares \(the batch's CRC matches/,
    );
  });

  it('a header that declares more records than offsets cannot be skipped safely: a named error', async () => {
    const fetched = await fetchedBatch(COMPRESSION.gzip, values(10));
    fetched.writeInt32BE(11, RECORDS - 4);
    fetched.writeUInt32BE(crc32C(fetched.subarray(ATTRIBUTES)), CRC);
    await expect(decode(fetched)).rejects.toThrow(
      'record batch at offset 1000 (gzip) does not decode (decompressed records are malformed',
    );
  });

  it('a producer cannot forge a placeholder: the same JSON in a real record is an ordinary message', async () => {
    const forged = JSON.stringify({ undecodable_record_batch: { codec: 'lz4', firstOffset: '0' } });
    const messages = await decode(await fetchedBatch(COMPRESSION.lz4, [forged]));
    expect(messages[0]!.value!.toString()).toBe(forged);
    expect(undecodableBatchOf(messages[0]!.value)).toBeUndefined();
  });
});

describe('block codecs round-trip any bytes', () => {
  const bytes = fc
    .oneof(
      fc.uint8Array({ maxLength: 2_000 }),
      // Repetitive and long: several 32 kB snappy chunks and 64 kB lz4 blocks.
      fc
        .tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 12_000 }))
        .map(([s, n]) => new Uint8Array(Buffer.from(s.repeat(n)))),
    )
    .map((a) => Buffer.from(a));

  it('lz4 (our frame) and snappy (xerial framing)', () => {
    fc.assert(
      fc.property(bytes, (input) => {
        expect(lz4Decompress(lz4Compress(input)).equals(input)).toBe(true);
        expect(snappyDecompress(snappyCompress(input)).equals(input)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('zstd', async () => {
    await fc.assert(
      fc.asyncProperty(bytes, async (input) => {
        expect(zstdDecompress(await zstdCompress(input)).equals(input)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('lz4 reads frames with content size and content checksum; refuses a wrong checksum', () => {
    const input = Buffer.from('the same sentence, again and again. '.repeat(500));
    const frame = lz4Compress(input);
    // Rebuild the frame with the content-checksum flag and the checksum appended.
    const xxh = require('lz4js/xxh32.js') as { hash(s: number, b: Uint8Array, i: number, l: number): number };
    const withSum = Buffer.concat([frame, Buffer.alloc(4)]);
    withSum[4] = withSum[4]! | 0x04;
    withSum[6] = (xxh.hash(0, withSum, 4, 2) >>> 8) & 0xff;
    withSum.writeUInt32LE(xxh.hash(0, input, 0, input.length) >>> 0, withSum.length - 4);
    expect(lz4Decompress(withSum).equals(input)).toBe(true);
    withSum.writeUInt32LE(1, withSum.length - 4);
    expect(() => lz4Decompress(withSum)).toThrow('LZ4 content checksum mismatch');
  });

  it('lz4 reads frames of linked blocks (a block copying from the one before), as other encoders may write them', () => {
    const xxh = require('lz4js/xxh32.js') as { hash(s: number, b: Uint8Array, i: number, l: number): number };
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0]); // no independence flag, 64 kB
    header[6] = (xxh.hash(0, header, 4, 2) >>> 8) & 0xff;
    const first = Buffer.from('0123456789ABCDEF');
    // Block 2: a 16-byte match 16 bytes back (in block 1), then the literals "hello".
    const second = Buffer.from([0x0c, 0x10, 0x00, 0x50, ...Buffer.from('hello')]);
    const word = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n >>> 0, 0);
      return b;
    };
    const frame = Buffer.concat([header, word(0x80000000 | 16), first, word(second.length), second, word(0)]);
    expect(lz4Decompress(frame).toString()).toBe('0123456789ABCDEF0123456789ABCDEFhello');
  });

  it('snappy reads a raw block (what librdkafka writes) as well as the xerial framing', () => {
    const input = Buffer.from('raw snappy block '.repeat(100));
    const snappyjs = require('snappyjs') as { compress(b: Buffer): Buffer };
    expect(snappyDecompress(snappyjs.compress(input)).equals(input)).toBe(true);
  });
});
