/**
 * What the codecs need to know about the record batch around a compressed payload, and how an
 * undecodable one becomes records the worker can dead-letter instead of a crash.
 *
 * kafkajs (2.2.4, its last release: pinned exactly) hands a codec only the compressed bytes, as a
 * slice of the fetch response; the batch header sits in the 61 bytes before it in the same memory.
 * From it we learn the batch's first offset, its last offset delta and its record count. When the
 * payload does not decode, the codec returns `count` placeholder records in the batch's offset
 * range: kafkajs then delivers them like any other messages, the worker dead-letters each with the
 * batch's coordinates and commits past the batch — the partition moves on instead of the worker
 * dying on the same fetch forever. Placeholders are recognised by the identity of their memory
 * (a WeakMap), so no message a producer writes can pass for one.
 */

/** Bytes of the v2 record batch header, from firstOffset through the record count. */
const HEADER_BYTES = 61;
/** Batch length counts the header from partitionLeaderEpoch on (61 − 8 − 4), then the records. */
const LENGTH_OVERHEAD = 49;
const MAGIC_V2 = 2;
/** The CRC covers the batch from its attributes (header byte 21) to its end. */
const CRC_FROM = 21;
/** More records than this in one batch means the header itself is not to be trusted. */
const MAX_RECORDS = 1_000_000;

export interface RecordBatchHeader {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly count: number;
  readonly codecId: number;
  readonly storedCrc: number;
}

export interface UndecodableBatch {
  readonly codec: string;
  readonly firstOffset: string;
  readonly lastOffset: string;
  readonly records: number;
  readonly reason: string;
  /** The batch's compressed records, as stored by the broker. */
  readonly raw: Buffer;
}

export class RecordBatchLayoutError extends Error {
  override readonly name = 'RecordBatchLayoutError';
}

/** The header of the batch whose compressed records `compressed` is (see above). */
export function recordBatchHeader(compressed: Buffer): RecordBatchHeader {
  const at = compressed.byteOffset - HEADER_BYTES;
  if (at < 0) throw new RecordBatchLayoutError('compressed records without their batch header');
  const header = Buffer.from(compressed.buffer, at, HEADER_BYTES);
  const length = header.readInt32BE(8);
  const magic = header.readInt8(16);
  if (magic !== MAGIC_V2 || length !== LENGTH_OVERHEAD + compressed.length) {
    throw new RecordBatchLayoutError(
      `the bytes before the compressed records are not their batch header (magic ${magic}, ` +
        `length ${length} for ${compressed.length} bytes of records): kafkajs is not 2.2.4`,
    );
  }
  return {
    firstOffset: header.readBigInt64BE(0),
    storedCrc: header.readUInt32BE(17),
    codecId: header.readInt16BE(21) & 0x07,
    lastOffsetDelta: header.readInt32BE(23),
    count: header.readInt32BE(57),
  };
}

/** Whether the stored CRC-32C matches the batch's bytes (only worth asking once decoding failed). */
export function crcMatches(compressed: Buffer, header: RecordBatchHeader): boolean {
  const from = compressed.byteOffset - HEADER_BYTES + CRC_FROM;
  const covered = Buffer.from(compressed.buffer, from, HEADER_BYTES - CRC_FROM + compressed.length);
  return crc32c(covered) === header.storedCrc;
}

/**
 * Why `records` is not `count` well-formed v2 records filling it exactly, or null. Checked before
 * kafkajs decodes them, because kafkajs would throw (or read garbage) on a bad one.
 */
export function recordsProblem(records: Buffer, count: number): string | null {
  const r = new Reader(records);
  try {
    for (let i = 0; i < count; i++) {
      const length = r.varint();
      if (length < 0 || r.at + length > records.length) return `record ${i} of ${count} overruns the batch`;
      const end = r.at + length;
      r.skip(1); // attributes
      r.varint(); // timestamp delta (a varlong: skipping it as bytes is enough)
      r.varint(); // offset delta
      r.bytes(); // key
      r.bytes(); // value
      const headers = r.varint();
      if (headers < 0) return `record ${i} has ${headers} headers`;
      for (let h = 0; h < headers; h++) {
        r.bytes();
        r.bytes();
      }
      if (r.at !== end) return `record ${i} of ${count} is not ${length} bytes long`;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return r.at === records.length
    ? null
    : `${records.length - r.at} bytes left after the ${count} records the batch declares`;
}

const undecodable = new WeakMap<ArrayBufferLike, UndecodableBatch>();

/** The undecodable batch a delivered message stands for, if it is one of our placeholders. */
export function undecodableBatchOf(value: Buffer | null): UndecodableBatch | undefined {
  return value ? undecodable.get(value.buffer) : undefined;
}

/**
 * `header.count` placeholder records for a batch that does not decode, covering its offsets from
 * first to last, or a thrown error when even the header is implausible (nothing safe to skip).
 */
export function placeholderRecords(
  compressed: Buffer,
  header: RecordBatchHeader,
  codec: string,
  reason: string,
): Buffer {
  const { count, lastOffsetDelta, firstOffset } = header;
  const lastOffset = (firstOffset + BigInt(lastOffsetDelta)).toString();
  if (count < 1 || count > MAX_RECORDS || lastOffsetDelta < count - 1) {
    throw new RecordBatchLayoutError(
      `record batch at offset ${firstOffset} (${codec}) does not decode (${reason}) and its header ` +
        `declares ${count} records over ${lastOffsetDelta + 1} offsets: nothing safe to skip`,
    );
  }
  const batch: UndecodableBatch = {
    codec,
    firstOffset: firstOffset.toString(),
    lastOffset,
    records: count,
    reason,
    raw: Buffer.from(compressed),
  };
  const value = Buffer.from(
    JSON.stringify({ undecodable_record_batch: { ...batch, raw: undefined } }),
    'utf8',
  );
  const records: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const offsetDelta = i === count - 1 ? lastOffsetDelta : i;
    const body = Buffer.concat([
      Buffer.from([0]), // attributes
      varint(0), // timestamp delta
      varint(offsetDelta),
      varint(-1), // key: null
      varint(value.length),
      value,
      varint(0), // headers
    ]);
    records.push(varint(body.length), body);
  }
  const total = records.reduce((n, b) => n + b.length, 0);
  // Its own memory (alloc never pools), so the identity below belongs to these records alone.
  const out = Buffer.alloc(total);
  let at = 0;
  for (const b of records) at += b.copy(out, at);
  undecodable.set(out.buffer, batch);
  return out;
}

/** Kafka's zig-zag varint. */
function varint(n: number): Buffer {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  const bytes: number[] = [];
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

class Reader {
  at = 0;
  constructor(private readonly buf: Buffer) {}
  skip(n: number): void {
    if (this.at + n > this.buf.length) throw new Error('record cut short');
    this.at += n;
  }
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.at >= this.buf.length) throw new Error('record cut short inside a varint');
      const byte = this.buf[this.at++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (value >>> 1) ^ -(value & 1);
    }
    throw new Error('varint longer than 10 bytes');
  }
  bytes(): void {
    const length = this.varint();
    if (length >= 0) this.skip(length);
    else if (length !== -1) throw new Error(`byte string of length ${length}`);
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32c(buf: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = CRC32C_TABLE[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
