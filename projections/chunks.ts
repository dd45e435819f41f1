/**
 * Splits bet_events into chunks by a hash of the bet id, so a rebuild can fill its shadow table in
 * parallel and report progress. Hash chunks, not key ranges: events sit in the heap in arrival
 * order, so a key range touches nearly every page anyway; each chunk instead reads the table once,
 * sequentially, and keeps every event of a bet in the same chunk.
 */
export interface Chunk {
  readonly index: number;
  readonly of: number;
}

export function chunks(count: number): Chunk[] {
  return Array.from({ length: Math.max(1, count) }, (_, index) => ({ index, of: Math.max(1, count) }));
}

/** A WHERE clause selecting one chunk, with its parameters numbered from `firstParam`. */
export function chunkFilter(
  chunk: Chunk,
  betColumn: string,
  firstParam: number,
): { sql: string; values: unknown[] } {
  if (chunk.of === 1) return { sql: 'true', values: [] };
  return {
    sql: `(hashtext(${betColumn}) & 2147483647) % $${firstParam}::integer = $${firstParam + 1}::integer`,
    values: [chunk.of, chunk.index],
  };
}
