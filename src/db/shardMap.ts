/**
 * Which shard of a hash-distributed Citus table holds a value of its bigint distribution column,
 * computed here as Citus computes it: PostgreSQL's hash of the value (`hashint8`), found among the
 * shards' hash ranges (`pg_dist_shard`). Pure: the ranges are read elsewhere (shardRanges.ts).
 */

/** A shard and the (inclusive) range of hashes it holds. */
export interface ShardRange {
  readonly shard: string;
  readonly min: number;
  readonly max: number;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** PostgreSQL's hash_uint32 (Bob Jenkins' lookup3 `final` mix of one word), as uint32. */
function hashUint32(k: number): number {
  let a = (0x9e3779b9 + 4 + 3923095 + k) >>> 0;
  let b = (0x9e3779b9 + 4 + 3923095) >>> 0;
  let c = b;
  c = ((c ^ b) - rotl(b, 14)) >>> 0;
  a = ((a ^ c) - rotl(c, 11)) >>> 0;
  b = ((b ^ a) - rotl(a, 25)) >>> 0;
  c = ((c ^ b) - rotl(b, 16)) >>> 0;
  a = ((a ^ c) - rotl(c, 4)) >>> 0;
  b = ((b ^ a) - rotl(a, 14)) >>> 0;
  c = ((c ^ b) - rotl(b, 24)) >>> 0;
  return c;
}

/** PostgreSQL's `hashint8(value)`, as the signed integer SQL shows. */
export function hashBigint(value: bigint): number {
  const word = BigInt.asIntN(64, value);
  const low = Number(BigInt.asUintN(32, word));
  const high = Number(BigInt.asUintN(32, word >> 32n));
  const folded = (word >= 0n ? low ^ high : low ^ ~high) >>> 0;
  return hashUint32(folded) | 0;
}

const [BIGINT_MIN, BIGINT_MAX] = [-(2n ** 63n), 2n ** 63n - 1n];

/** A bigint distribution value given as a number or as its text; undefined for anything else. */
function asBigint(value: unknown): bigint | undefined {
  let n: bigint | undefined;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) n = BigInt(value);
  return n !== undefined && n >= BIGINT_MIN && n <= BIGINT_MAX ? n : undefined;
}

/**
 * The shard holding `value` among `ranges` (sorted by `min`, as shardRanges.ts reads them), or
 * undefined where the value is no bigint or no range holds its hash.
 */
export function shardOf(ranges: readonly ShardRange[], value: unknown): string | undefined {
  const n = asBigint(value);
  if (n === undefined) return undefined;
  const hash = hashBigint(n);
  let [low, high] = [0, ranges.length - 1];
  while (low <= high) {
    const middle = (low + high) >> 1;
    const range = ranges[middle]!;
    if (hash < range.min) high = middle - 1;
    else if (hash > range.max) low = middle + 1;
    else return range.shard;
  }
  return undefined;
}
