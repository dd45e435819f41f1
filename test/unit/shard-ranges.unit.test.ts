import { jest } from '@jest/globals';
import type pg from 'pg';
import { assumeDialect, onNewConnection } from '../../src/db/platform.js';
import { RANGES_KEPT_MS, shardRangesOf } from '../../src/db/shardRanges.js';

const RANGES = [
  { shard: '1', min: -2147483648, max: -1 },
  { shard: '2', min: 0, max: 2147483647 },
];

/** A pool that answers the ranges' statement when `answer` is called, counting what it was asked. */
function fakePool(platform: 'citus' | 'postgres' = 'citus') {
  const asked: string[] = [];
  let answer: (outcome: 'rows' | 'fail') => void = () => undefined;
  const pool = {
    totalCount: 0,
    query: (statement: { text: string }) => {
      asked.push(statement.text);
      return new Promise((resolve, reject) => {
        answer = (outcome) =>
          outcome === 'rows'
            ? resolve({ rows: RANGES })
            : reject(new Error('permission denied for pg_dist_shard'));
      });
    },
  } as unknown as pg.Pool;
  assumeDialect(pool, platform);
  const client = { query: () => Promise.resolve({ rows: [] }) } as unknown as pg.PoolClient;
  onNewConnection(pool, client);
  return { pool, client, asked, answer: (outcome: 'rows' | 'fail') => answer(outcome) };
}

describe('shardRangesOf', () => {
  afterEach(() => jest.useRealTimers());

  it('reads a table once for callers that arrive together through the pool, each awaiting it', async () => {
    const { pool, asked, answer } = fakePool();
    const first = shardRangesOf(pool, 'bets_view');
    const second = shardRangesOf(pool, 'bets_view');
    await Promise.resolve();
    answer('rows');
    expect(await first).toEqual(RANGES);
    expect(await second).toEqual(RANGES);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('pg_dist_shard');
    // Known now: no second read.
    expect(await shardRangesOf(pool, 'bets_view')).toEqual(RANGES);
    expect(asked).toHaveLength(1);
  });

  it('gives a checked-out client none at first, reading them on the pool for the next read', async () => {
    const { pool, client, asked, answer } = fakePool();
    expect(await shardRangesOf(client, 'bets_view')).toEqual([]);
    expect(asked).toHaveLength(1);
    answer('rows');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await shardRangesOf(client, 'bets_view')).toEqual(RANGES);
    expect(await shardRangesOf(pool, 'bets_view')).toEqual(RANGES);
    expect(asked).toHaveLength(1);
  });

  it('after a failed read gives none, and asks again only once they are due', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const { pool, asked, answer } = fakePool();
    const first = shardRangesOf(pool, 'bets_view');
    await Promise.resolve();
    answer('fail');
    expect(await first).toEqual([]);
    expect(await shardRangesOf(pool, 'bets_view')).toEqual([]);
    expect(asked).toHaveLength(1);
    jest.setSystemTime(1_000_000 + RANGES_KEPT_MS + 1);
    const again = shardRangesOf(pool, 'bets_view');
    expect(asked).toHaveLength(2);
    answer('rows');
    // Not awaited once anything was read (here, nothing): the next read has them.
    expect(await again).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(await shardRangesOf(pool, 'bets_view')).toEqual(RANGES);
  });

  it('uses stale ranges while it reads them again in the background, once', async () => {
    jest.useFakeTimers({ now: 2_000_000 });
    const { pool, asked, answer } = fakePool();
    const first = shardRangesOf(pool, 'bets_view');
    await Promise.resolve();
    answer('rows');
    await first;
    jest.setSystemTime(2_000_000 + RANGES_KEPT_MS + 1);
    expect(await shardRangesOf(pool, 'bets_view')).toEqual(RANGES);
    expect(await shardRangesOf(pool, 'bets_view')).toEqual(RANGES);
    expect(asked).toHaveLength(2);
  });

  it('reads nothing on PostgreSQL, which has no shards', async () => {
    const { pool, asked } = fakePool('postgres');
    expect(await shardRangesOf(pool, 'bets_view')).toEqual([]);
    expect(asked).toHaveLength(0);
  });
});
