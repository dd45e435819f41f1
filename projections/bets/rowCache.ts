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

/** Least recently used first: a Map iterates in insertion order, and a hit re-inserts. */
export class RowCache {
  private readonly rows = new Map<string, BetRow>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`row cache capacity must be a non-negative integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.rows.size;
  }

  get(key: string): BetRow | undefined {
    const row = this.rows.get(key);
    if (row) {
      this.rows.delete(key);
      this.rows.set(key, row);
    }
    return row;
  }

  remember(key: string, row: BetRow): void {
    if (this.capacity === 0) return;
    this.rows.delete(key);
    this.rows.set(key, row);
    if (this.rows.size > this.capacity) {
      const oldest = this.rows.keys().next();
      if (!oldest.done) this.rows.delete(oldest.value);
    }
  }

  forget(key: string): void {
    this.rows.delete(key);
  }
}
