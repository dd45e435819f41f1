import { setTimeout as sleep } from 'node:timers/promises';
import type { BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { runSimulation } from '../../src/simulate/run.js';
import type { AppendResult, EventStore } from '../../src/store/eventStore.js';

/** A store that takes `appendMs` per append and records each batch and how many ran at once. */
function slowStore(appendMs: number) {
  const batches: BetEvent[][] = [];
  let running = 0;
  let mostAtOnce = 0;
  const store: EventStore = {
    async append(events): Promise<AppendResult> {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await sleep(appendMs);
      running--;
      batches.push([...events]);
      return { appended: [...events], duplicates: [] };
    },
    readBet: () => Promise.resolve([]),
  };
  return { store, batches, mostAtOnce: () => mostAtOnce };
}

const stream = { events: 2_000, tenants: 12, seed: 7, openBets: 200, duplicateRate: 0 };

describe('runSimulation with several producers', () => {
  it('appends every event once, each producer its own tenants, a bet’s events in order', async () => {
    const s = slowStore(2);
    const report = await runSimulation(s.store, { ...stream, rate: 0, batchSize: 25, producers: 4 });
    expect(report.appended).toBe(2_000);
    const keys = s.batches.flat().map((e) => e.idempotencyKey);
    expect(new Set(keys).size).toBe(2_000);
    const expected = [...simulateEvents(stream)].map((e) => e.idempotencyKey).sort();
    expect([...keys].sort()).toEqual(expected);
    for (const batch of s.batches) expect(new Set(batch.map((e) => e.tenantId % 4)).size).toBe(1);
    const versions = new Map<string, number>();
    for (const e of s.batches.flat()) {
      const key = `${e.tenantId}:${e.aggregateId}`;
      expect(e.version).toBe((versions.get(key) ?? 0) + 1);
      versions.set(key, e.version);
    }
    expect(s.mostAtOnce()).toBeGreaterThan(1);
    expect(s.mostAtOnce()).toBeLessThanOrEqual(4);
  });

  it('one producer appends one batch at a time, as before', async () => {
    const s = slowStore(1);
    const report = await runSimulation(s.store, { ...stream, rate: 0, batchSize: 50 });
    expect(report.appended).toBe(2_000);
    expect(s.mostAtOnce()).toBe(1);
  });

  it('paces the stream at the rate asked, with one producer and with several', async () => {
    for (const producers of [1, 3]) {
      const s = slowStore(0);
      const started = performance.now();
      await runSimulation(s.store, { ...stream, events: 300, rate: 2_000, batchSize: 20, producers });
      // 300 events at 2,000 a second: the last batch is handed over at 150 ms, not before.
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    }
  });

  it('stops at a producer’s failed append and reports its error', async () => {
    let calls = 0;
    const store: EventStore = {
      async append(events) {
        await sleep(1);
        if (++calls === 3) throw new Error('database refused the batch');
        return { appended: [...events], duplicates: [] };
      },
      readBet: () => Promise.resolve([]),
    };
    await expect(runSimulation(store, { ...stream, rate: 0, batchSize: 25, producers: 3 })).rejects.toThrow(
      'database refused the batch',
    );
    const atFailure = calls;
    expect(atFailure).toBeLessThan(2_000 / 25);
    // Nothing was still appending when the run returned.
    await sleep(20);
    expect(calls).toBe(atFailure);
  });
});
