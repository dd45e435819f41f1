import { hashBigint, shardOf, type ShardRange } from '../../src/db/shardMap.js';

describe('shardMap', () => {
  it("hashes a bigint as PostgreSQL's hashint8 does (values PostgreSQL 15 gave)", () => {
    const fromPostgres: Array<[bigint, number]> = [
      [0n, -272711505],
      [1n, -1905060026],
      [5n, -1330264708],
      [-1n, 385747274],
      [-5n, 1412886042],
      [4294967296n, -1905060026],
      [9999999999n, -444831560],
      [-9999999999n, 1099270084],
      [9223372036854775807n, -1524351049],
      [-9223372036854775808n, -96758253],
    ];
    for (const [value, hash] of fromPostgres) expect([value, hashBigint(value)]).toEqual([value, hash]);
  });

  const ranges: ShardRange[] = [
    { shard: 'a', min: -2147483648, max: -1073741825 },
    { shard: 'b', min: -1073741824, max: -1 },
    { shard: 'c', min: 0, max: 1073741823 },
    { shard: 'd', min: 1073741824, max: 2147483647 },
  ];

  it('finds the shard whose range holds the hash, for a value given as a number or as text', () => {
    // hashint8(5) = -1330264708 (range a), hashint8(-5) = 1412886042 (d), hashint8(0) = -272711505 (b).
    expect(shardOf(ranges, 5)).toBe('a');
    expect(shardOf(ranges, '5')).toBe('a');
    expect(shardOf(ranges, -5)).toBe('d');
    expect(shardOf(ranges, 0)).toBe('b');
  });

  it("counts a range's bounds as its own", () => {
    // hashint8(5) = -1330264708.
    const bounds: ShardRange[] = [
      { shard: 'below', min: -2147483648, max: -1330264709 },
      { shard: 'at', min: -1330264708, max: -1330264708 },
      { shard: 'above', min: -1330264707, max: 2147483647 },
    ];
    expect(shardOf(bounds, 5)).toBe('at');
    expect(shardOf(bounds.slice(0, 2), 5)).toBe('at');
    expect(shardOf([bounds[0]!, { ...bounds[1]!, max: 0 }], 5)).toBe('at');
    expect(shardOf([{ ...bounds[0]!, max: -1330264708 }, bounds[2]!], 5)).toBe('below');
  });

  it('gives no shard for a value that is no bigint, or a hash no range holds', () => {
    expect(shardOf(ranges, 'five')).toBeUndefined();
    expect(shardOf(ranges, 1.5)).toBeUndefined();
    expect(shardOf(ranges, '99999999999999999999')).toBeUndefined();
    expect(shardOf(ranges, '9999999999999999999')).toBeUndefined();
    expect(shardOf(ranges, 2n ** 63n)).toBeUndefined();
    expect(shardOf([ranges[0]!], 0)).toBeUndefined();
    expect(shardOf([], 5)).toBeUndefined();
  });
});
