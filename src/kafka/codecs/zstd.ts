/**
 * Zstandard: decoded by fzstd (pure JavaScript, reads the streamed frames without a content size
 * that the Java client's ZstdOutputStream writes), encoded by the zstd library compiled to
 * WebAssembly (@bokuweb/zstd-wasm; the .wasm ships inside the npm package, nothing is downloaded
 * or built at install), at zstd's default level 3.
 */
import { decompress } from 'fzstd';
import { compress, init } from '@bokuweb/zstd-wasm';

const LEVEL = 3;
let ready: Promise<void> | undefined;

export async function zstdCompress(input: Buffer): Promise<Buffer> {
  ready ??= init();
  await ready;
  return Buffer.from(compress(input, LEVEL));
}

export function zstdDecompress(input: Buffer): Buffer {
  const out = decompress(input);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
