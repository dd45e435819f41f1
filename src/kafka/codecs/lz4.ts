/**
 * LZ4 as Kafka uses it: the LZ4 frame format (magic 0x184D2204) with independent blocks, as the
 * Java client's KafkaLZ4BlockOutputStream and librdkafka write it. The block codec is lz4js (pure
 * JavaScript); the frame is ours, because lz4js's own frame reader sizes its output for 4 MB
 * blocks on every call (several times slower on a typical batch), checks no checksum and writes
 * dependent blocks.
 */
import { compressBlock, compressBound, decompressBlock } from 'lz4js';
import { hash as xxh32 } from 'lz4js/xxh32.js';

const MAGIC = 0x184d2204;
const VERSION = 0x40;
const BLOCK_INDEPENDENT = 0x20;
const BLOCK_CHECKSUM = 0x10;
const CONTENT_SIZE = 0x08;
const CONTENT_CHECKSUM = 0x04;
const DICTIONARY_ID = 0x01;
const UNCOMPRESSED_BIT = 0x80000000;
/** Block maximum sizes by the BD byte's id (4..7). */
const BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
/** What the Java client writes: 64 kB blocks. */
const WRITE_BLOCK_ID = 4;
const WRITE_BLOCK_SIZE = 64 << 10;

export class Lz4FrameError extends Error {
  override readonly name = 'Lz4FrameError';
}

const hashTable = new Uint32Array(1 << 16);
/** One decompression buffer per block size seen (64 kB from Kafka's clients), reused: no garbage per batch. */
const scratches = new Map<number, Buffer>();
function scratchOf(size: number): Buffer {
  let scratch = scratches.get(size);
  if (!scratch) scratches.set(size, (scratch = Buffer.allocUnsafe(size)));
  return scratch;
}

export function lz4Compress(input: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(input.length / WRITE_BLOCK_SIZE));
  const out = Buffer.allocUnsafe(7 + blocks * (4 + compressBound(WRITE_BLOCK_SIZE)) + 4);
  out.writeUInt32LE(MAGIC, 0);
  out[4] = VERSION | BLOCK_INDEPENDENT;
  out[5] = WRITE_BLOCK_ID << 4;
  out[6] = (xxh32(0, out, 4, 2) >>> 8) & 0xff;
  let at = 7;
  for (let start = 0; start < input.length; start += WRITE_BLOCK_SIZE) {
    const length = Math.min(WRITE_BLOCK_SIZE, input.length - start);
    // A clear table per block keeps every match inside its block: the blocks are independent.
    hashTable.fill(0);
    const size = compressBlock(input, out.subarray(at + 4), start, length, hashTable);
    if (size > 0 && size < length) {
      out.writeUInt32LE(size, at);
      at += 4 + size;
    } else {
      out.writeUInt32LE((UNCOMPRESSED_BIT | length) >>> 0, at);
      input.copy(out, at + 4, start, start + length);
      at += 4 + length;
    }
  }
  out.writeUInt32LE(0, at);
  return out.subarray(0, at + 4);
}

export function lz4Decompress(input: Buffer): Buffer {
  if (input.length < 7 || input.readUInt32LE(0) !== MAGIC) {
    throw new Lz4FrameError('not an LZ4 frame (magic number)');
  }
  const flags = input[4]!;
  if ((flags & 0xc0) !== VERSION) throw new Lz4FrameError(`LZ4 frame version ${flags >> 6}`);
  if (flags & DICTIONARY_ID) throw new Lz4FrameError('LZ4 frame with a dictionary id');
  const blockId = (input[5]! >> 4) & 0x7;
  const maxBlock = BLOCK_SIZES[blockId];
  if (maxBlock === undefined) throw new Lz4FrameError(`LZ4 block size id ${blockId}`);
  let at = 6;
  const declaredSize = flags & CONTENT_SIZE ? Number(input.readBigUInt64LE(at)) : null;
  if (flags & CONTENT_SIZE) at += 8;
  if (((xxh32(0, input, 4, at - 4) >>> 8) & 0xff) !== input[at]) {
    throw new Lz4FrameError('LZ4 frame header checksum mismatch');
  }
  at += 1;
  // Independent blocks (what Kafka's clients write) decode one by one into a reused buffer; linked
  // blocks may copy from earlier ones, so they decode into one buffer for the whole frame.
  const linked = (flags & BLOCK_INDEPENDENT) === 0;
  const target = linked ? Buffer.allocUnsafe(linkedBound(input, at, maxBlock, flags)) : scratchOf(maxBlock);
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    if (at + 4 > input.length) throw new Lz4FrameError('LZ4 frame ends inside a block header');
    const word = input.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = (word & ~UNCOMPRESSED_BIT) >>> 0;
    if (size > maxBlock || at + size > input.length) {
      throw new Lz4FrameError(`LZ4 block of ${size} bytes does not fit the frame`);
    }
    const from = linked ? total : 0;
    let written: number;
    if (word & UNCOMPRESSED_BIT) {
      written = input.copy(target, from, at, at + size);
    } else {
      written = decompressBlock(input, target, at, size, from) - from;
      if (!(written > 0 && written <= maxBlock)) throw new Lz4FrameError('LZ4 block does not decode');
    }
    if (!linked) parts.push(Buffer.from(target.subarray(0, written)));
    total += written;
    at += size;
    if (flags & BLOCK_CHECKSUM) at += 4;
  }
  if (linked) parts.push(Buffer.from(target.subarray(0, total)));
  const output = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  if (flags & CONTENT_CHECKSUM) {
    if (at + 4 > input.length) throw new Lz4FrameError('LZ4 frame ends before its content checksum');
    if (xxh32(0, output, 0, output.length) >>> 0 !== input.readUInt32LE(at)) {
      throw new Lz4FrameError('LZ4 content checksum mismatch');
    }
  }
  if (declaredSize !== null && declaredSize !== output.length) {
    throw new Lz4FrameError(`LZ4 frame declares ${declaredSize} bytes, holds ${output.length}`);
  }
  return output;
}

/** Room for a linked frame's output: every block's maximum, from its block headers. */
function linkedBound(input: Buffer, start: number, maxBlock: number, flags: number): number {
  let bound = 0;
  for (let at = start; at + 4 <= input.length;) {
    const word = input.readUInt32LE(at);
    if (word === 0) return bound;
    const size = (word & ~UNCOMPRESSED_BIT) >>> 0;
    bound += word & UNCOMPRESSED_BIT ? size : maxBlock;
    at += 4 + size + (flags & BLOCK_CHECKSUM ? 4 : 0);
  }
  return bound;
}
