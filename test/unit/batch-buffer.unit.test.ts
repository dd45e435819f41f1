import { setTimeout as sleep } from 'node:timers/promises';
import { BatchBuffer } from '../../consumers/batchBuffer.js';

function recorder(delayMs = 0) {
  const flushed: number[][] = [];
  return {
    flushed,
    flush: async (items: number[]) => {
      await sleep(delayMs);
      flushed.push(items);
    },
  };
}

describe('BatchBuffer', () => {
  it('flushes as soon as the batch is full, in order, at most maxItems per flush', async () => {
    const r = recorder();
    const buffer = new BatchBuffer<number>({ maxItems: 3, maxWaitMs: 10_000, flush: r.flush });
    await buffer.add([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.flushed).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
  });

  it('flushes a partial batch when the deadline passes', async () => {
    const r = recorder();
    const buffer = new BatchBuffer<number>({ maxItems: 100, maxWaitMs: 20, flush: r.flush });
    const started = Date.now();
    await buffer.add([1, 2]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(r.flushed).toEqual([[1, 2]]);
  });

  it('resolves a caller only after the flush holding its items', async () => {
    const r = recorder(30);
    const buffer = new BatchBuffer<number>({ maxItems: 2, maxWaitMs: 5, flush: r.flush });
    const first = buffer.add([1]);
    const second = buffer.add([2, 3]);
    await first;
    expect(r.flushed[0]).toEqual([1, 2]);
    await second;
    expect(r.flushed).toEqual([[1, 2], [3]]);
  });

  it('fails every later caller once a flush fails, so nothing is acknowledged out of order', async () => {
    let calls = 0;
    const buffer = new BatchBuffer<number>({
      maxItems: 1,
      maxWaitMs: 5,
      flush: async () => {
        calls++;
        await sleep(5);
        throw new Error('database gone');
      },
    });
    const a = buffer.add([1]);
    const b = buffer.add([2]);
    await expect(a).rejects.toThrow('database gone');
    await expect(b).rejects.toThrow('database gone');
    await expect(buffer.add([3])).rejects.toThrow('database gone');
    expect(calls).toBe(1);
  });

  it('drain flushes what is buffered without waiting for the deadline', async () => {
    const r = recorder();
    const buffer = new BatchBuffer<number>({ maxItems: 100, maxWaitMs: 60_000, flush: r.flush });
    const pending = buffer.add([1]);
    await buffer.drain();
    await pending;
    expect(r.flushed).toEqual([[1]]);
    expect(buffer.pending).toBe(0);
  });

  it('seals at the capacity in force: raised for a backlog, lowered again when caught up', async () => {
    const r = recorder();
    const buffer = new BatchBuffer<number>({ maxItems: 2, maxWaitMs: 10_000, flush: r.flush });
    buffer.capacity = 4;
    const big = buffer.add([1, 2, 3, 4, 5, 6, 7, 8]);
    await big;
    expect(r.flushed).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const open = buffer.add([9, 10, 11]);
    expect(r.flushed.length).toBe(2);
    // Lowered below what is open: the open batch is sealed at once, not kept to a deadline.
    buffer.capacity = 2;
    await open;
    expect(r.flushed).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11],
    ]);
  });

  it('a deadline that passes during a flush seals when that flush ends, with what arrived meanwhile', async () => {
    const r = recorder(40);
    const buffer = new BatchBuffer<number>({ maxItems: 100, maxWaitMs: 5, flush: r.flush });
    const first = buffer.add([1]);
    await sleep(15); // the first flush is running
    const second = buffer.add([2]);
    await sleep(15); // its deadline passed while the first flush still runs
    const third = buffer.add([3]);
    await Promise.all([first, second, third]);
    expect(r.flushed).toEqual([[1], [2, 3]]);
  });

  it("a lowered wait brings an open batch's deadline forward; a raised one leaves it", async () => {
    const r = recorder();
    const buffer = new BatchBuffer<number>({ maxItems: 100, maxWaitMs: 60_000, flush: r.flush });
    const started = Date.now();
    const open = buffer.add([1]);
    buffer.maxWait = 10;
    buffer.maxWait = 60_000;
    await open;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.flushed).toEqual([[1]]);
  });
});
