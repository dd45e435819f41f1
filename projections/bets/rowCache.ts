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

interface Entry {
  readonly key: string;
  row: BetRow;
  older: Entry | undefined;
  newer: Entry | undefined;
}

/**
 * Least recently used goes first, kept in a linked list beside the Map so that every operation is
 * O(1). Evicting by the Map's first key looked simpler and showed up high in a CPU profile of the
 * worker: V8 walks over the deleted slots at the front of the table on every `keys().next()`. Two
 * generations of Maps were cheap but, on the bench's stream, missed far more often than a true LRU
 * of the same size.
 */
export class RowCache {
  private readonly entries = new Map<string, Entry>();
  private oldest: Entry | undefined;
  private newest: Entry | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`row cache capacity must be a non-negative integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): BetRow | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.touch(entry);
    return entry.row;
  }

  remember(key: string, row: BetRow): void {
    if (this.capacity === 0) return;
    const entry = this.entries.get(key);
    if (entry) {
      entry.row = row;
      this.touch(entry);
      return;
    }
    const added: Entry = { key, row, older: this.newest, newer: undefined };
    if (this.newest) this.newest.newer = added;
    else this.oldest = added;
    this.newest = added;
    this.entries.set(key, added);
    if (this.entries.size > this.capacity && this.oldest) this.remove(this.oldest);
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.remove(entry);
  }

  private touch(entry: Entry): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private remove(entry: Entry): void {
    this.unlink(entry);
    this.entries.delete(entry.key);
  }

  private unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
  }
}
