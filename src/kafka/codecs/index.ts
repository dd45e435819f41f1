/**
 * Every compression codec Kafka has, for kafkajs, which ships only gzip. Installed once per
 * process into kafkajs's codec table (`installCodecs()`, called by `createKafka`): gzip (node:zlib),
 * snappy, lz4 and zstd (pure JavaScript and WebAssembly from the npm registry, nothing native), and
 * the ids Kafka does not define (5–7). Every decompression is guarded: a payload that does not
 * decode — corrupt, or a codec we do not know — becomes placeholder records the worker
 * dead-letters (see recordBatch.ts), never an exception that would kill the worker on the same
 * fetch again and again.
 */
import { promisify } from 'node:util';
import { gzip, unzip } from 'node:zlib';
import kafkajs from 'kafkajs';
import type { KafkaCompression } from '../../config.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import {
  crcMatches,
  placeholderRecords,
  recordBatchHeader,
  recordsProblem,
  type RecordBatchHeader,
} from './recordBatch.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

// A default import: Node's ESM loader does not see CompressionCodecs among kafkajs's named exports.
const { CompressionCodecs, CompressionTypes } = kafkajs;

export { undecodableBatchOf, type UndecodableBatch } from './recordBatch.js';

/** The values of KAFKA_COMPRESSION, mapped to kafkajs's ids. */
export const COMPRESSION: Record<KafkaCompression, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export type CompressionName = KafkaCompression;

const gzipAsync = promisify(gzip);
const unzipAsync = promisify(unzip);

interface Codec {
  readonly name: string;
  compress(input: Buffer): Buffer | Promise<Buffer>;
  decompress(input: Buffer): Buffer | Promise<Buffer>;
}

const CODECS: Record<number, Codec> = {
  1: { name: 'gzip', compress: (b) => gzipAsync(b), decompress: (b) => unzipAsync(b) },
  2: { name: 'snappy', compress: snappyCompress, decompress: snappyDecompress },
  3: { name: 'lz4', compress: lz4Compress, decompress: lz4Decompress },
  4: { name: 'zstd', compress: zstdCompress, decompress: zstdDecompress },
};

function unknownCodec(id: number): Codec {
  const fail = (): never => {
    throw new Error(`compression codec id ${id} is not one Kafka defines`);
  };
  return { name: `unknown codec ${id}`, compress: fail, decompress: fail };
}

/** kafkajs's codec contract: compress gets its encoder, decompress the compressed records. */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const decoded = new Map<string, number>();

/** Compressed batches decompressed in this process, by codec (what the tests check was exercised). */
export function decodedBatchCounts(): ReadonlyMap<string, number> {
  return new Map(decoded);
}

function guarded(codec: Codec): KafkajsCodec {
  return {
    compress: async (encoder) => codec.compress(encoder.buffer),
    decompress: async (compressed) => {
      decoded.set(codec.name, (decoded.get(codec.name) ?? 0) + 1);
      const header = recordBatchHeader(compressed);
      let reason: string;
      try {
        const records = await codec.decompress(compressed);
        const problem = recordsProblem(records, header.count);
        if (problem === null) return records;
        reason = `decompressed records are malformed: ${problem}`;
      } catch (error) {
        reason = (error as Error).message;
      }
      return placeholderRecords(compressed, header, codec.name, withCrc(reason, compressed, header));
    },
  };
}

function withCrc(reason: string, compressed: Buffer, header: RecordBatchHeader): string {
  return crcMatches(compressed, header)
    ? `${reason} (the batch's CRC matches: it was written this way)`
    : `${reason} (the batch's CRC does not match: it is corrupt)`;
}

let installed = false;

/** Idempotent: puts the codecs into kafkajs's table, once per process. */
export function installCodecs(): void {
  if (installed) return;
  const table = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  for (let id = 1; id <= 7; id++) {
    const codec = guarded(CODECS[id] ?? unknownCodec(id));
    table[id] = () => codec;
  }
  installed = true;
}
