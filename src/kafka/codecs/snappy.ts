/**
 * Snappy as Kafka uses it. The Java client writes snappy-java's "xerial" framing (a 16-byte
 * header, then chunks each prefixed by its compressed length); librdkafka and older clients may
 * write one raw Snappy block. Both are read; the xerial framing is written, as the Java client
 * does. The block codec is snappyjs (pure JavaScript).
 */
import { compress, uncompress } from 'snappyjs';

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;
/** snappy-java's default chunk size. */
const CHUNK = 32 << 10;

export class SnappyFrameError extends Error {
  override readonly name = 'SnappyFrameError';
}

export function snappyCompress(input: Buffer): Buffer {
  const parts: Buffer[] = [XERIAL_MAGIC, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])];
  for (let start = 0; start < input.length; start += CHUNK) {
    const chunk = compress(input.subarray(start, start + CHUNK));
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(chunk.length, 0);
    parts.push(length, chunk);
  }
  return Buffer.concat(parts);
}

export function snappyDecompress(input: Buffer): Buffer {
  const xerial = input.length >= XERIAL_HEADER && input.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
  if (!xerial) return rawBlock(input);
  const parts: Buffer[] = [];
  let at = XERIAL_HEADER;
  while (at < input.length) {
    if (at + 4 > input.length) throw new SnappyFrameError('snappy chunk header cut short');
    const size = input.readUInt32BE(at);
    at += 4;
    if (at + size > input.length) throw new SnappyFrameError(`snappy chunk of ${size} bytes cut short`);
    parts.push(rawBlock(input.subarray(at, at + size)));
    at += size;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function rawBlock(block: Buffer): Buffer {
  try {
    return Buffer.from(uncompress(block));
  } catch (error) {
    throw new SnappyFrameError(`snappy block does not decode: ${(error as Error).message}`);
  }
}
