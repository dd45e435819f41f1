/**
 * The rows a worker last saw committed, so the next flush need not read them back: with the
 * default 100-event flush, reading the stored rows was one of five round trips and about a fifth of
 * a flush's time (bench stage timers).
 *
 * Why a stale entry is still safe: an entry is the fold of its bet's events 1..version — a fact
 * about the append-only event log, not about the table. Folding newer events onto it gives the same
 * row as folding them onto the stored one, and the UPSERT's version guard still refuses anything
 * older than the table holds. An entry behind the table (another writer got there first: a worker
 * after a rebalance, immediate mode, a repair) costs one refused write, after which the entry is
 * dropped and the next flush reads the table again. Entries are only added after the flush's
 * transaction has committed.
 */
import type { BetRow } from './row.js';

/**
 * Two generations instead of a strict LRU: rows are remembered in the young map; when it holds
 * half the capacity it becomes the old one and the previous old map is dropped whole. A hit in
 * the old generation is carried into the young one, so a bet still in use survives. Evicting one
 * row at a time from a Map (delete the first key) looked cheaper and cost the worker 8 % of its
 * CPU in a profile: V8 skips the deleted slots at the front of the table on every `keys().next()`
 * (about 14 µs an eviction at 20,000 rows).
 */
export class RowCache {
  private young = new Map<string, BetRow>();
  private old = new Map<string, BetRow>();
  private readonly generation: number;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`row cache capacity must be a non-negative integer, got ${capacity}`);
    }
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  /** Rows held, at most `capacity`. */
  get size(): number {
    let size = this.young.size;
    for (const key of this.old.keys()) if (!this.young.has(key)) size++;
    return size;
  }

  get(key: string): BetRow | undefined {
    const row = this.young.get(key);
    if (row) return row;
    const aged = this.old.get(key);
    if (aged) this.remember(key, aged);
    return aged;
  }

  remember(key: string, row: BetRow): void {
    if (this.capacity === 0) return;
    if (!this.young.has(key) && this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, row);
  }

  forget(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }
}
