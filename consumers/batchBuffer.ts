/**
 * Groups items into batches by size and by deadline, and hands them, one batch at a time and in
 * order, to a flush function. `add` resolves only when the batch holding the caller's last item
 * has been flushed: a caller that waits on it knows its items are durable, and a caller that waits
 * once it is far enough ahead keeps memory bounded by its lead, not by the broker's speed. (The
 * worker need not wait to be safe: its flush function commits the Kafka offsets itself, after the
 * database transaction.)
 *
 * A full batch is sealed at once. A batch whose deadline passed is sealed when the flush before it
 * ends, not sooner: sealed earlier it could not start earlier, and what arrives meanwhile rides in
 * it (a group commit) instead of paying a transaction of its own.
 */
import { DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_FLUSH_MAX_EVENTS } from '../src/config.js';

export interface BatchBufferOptions<T> {
  readonly maxItems?: number;
  readonly maxWaitMs?: number;
  readonly flush: (items: T[]) => Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Batch<T> {
  items: T[];
  waiters: Waiter[];
}

export class BatchBuffer<T> {
  private maxItems: number;
  private readonly flushFn: (items: T[]) => Promise<void>;
  private open: Batch<T> = { items: [], waiters: [] };
  private readonly sealed: Batch<T>[] = [];
  private maxWaitMs: number;
  /** When the open batch's first item arrived (ms, performance.now()), and when it is due. */
  private openedAt = 0;
  private dueAt = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private due = false;
  private flushing = false;
  private failure: Error | undefined;

  constructor(options: BatchBufferOptions<T>) {
    this.maxItems = options.maxItems ?? DEFAULT_FLUSH_MAX_EVENTS;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.flushFn = options.flush;
  }

  /** The size at which the open batch is sealed from now on (a full batch is sealed at once). */
  set capacity(items: number) {
    this.maxItems = Math.max(1, items);
    if (this.open.items.length >= this.maxItems) this.seal();
  }

  get capacity(): number {
    return this.maxItems;
  }

  /**
   * How long the open batch may wait after its first item from now on. Lowered, it brings a
   * waiting batch's deadline forward; raised, it leaves that deadline alone.
   */
  set maxWait(ms: number) {
    this.maxWaitMs = Math.max(0, ms);
    if (this.open.items.length > 0) this.schedule(this.openedAt + this.maxWaitMs);
  }

  /** Items waiting for a flush (buffered or sealed, not yet flushed). */
  get pending(): number {
    return this.open.items.length + this.sealed.reduce((n, b) => n + b.items.length, 0);
  }

  /** Nothing buffered, sealed or flushing. */
  get idle(): boolean {
    return !this.flushing && this.pending === 0;
  }

  add(items: readonly T[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let index = 0;
      while (index < items.length) {
        const room = Math.max(1, this.maxItems - this.open.items.length);
        const chunk = items.slice(index, index + room);
        this.open.items.push(...chunk);
        index += chunk.length;
        if (index >= items.length) this.open.waiters.push({ resolve, reject });
        if (this.open.items.length >= this.maxItems) this.seal();
      }
      if (this.open.items.length > 0 && this.dueAt === Infinity && !this.due) {
        this.openedAt = performance.now();
        this.schedule(this.openedAt + this.maxWaitMs);
      }
    });
  }

  /** Sets the open batch's deadline to `at` unless it is already due by then. */
  private schedule(at: number): void {
    if (this.due || at >= this.dueAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.onDeadline(), Math.max(0, at - performance.now()));
  }

  private onDeadline(): void {
    this.timer = undefined;
    this.dueAt = Infinity;
    this.due = true;
    if (!this.flushing) this.seal();
  }

  /** Flushes whatever is buffered now, without waiting for the deadline. */
  drain(): Promise<void> {
    const done = this.open.items.length > 0 ? this.waitForOpen() : this.waitForSealed();
    this.seal();
    return done;
  }

  private waitForOpen(): Promise<void> {
    return new Promise((resolve, reject) => this.open.waiters.push({ resolve, reject }));
  }

  private waitForSealed(): Promise<void> {
    const last = this.sealed[this.sealed.length - 1];
    if (!last && !this.flushing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (last) last.waiters.push({ resolve, reject });
      else this.open.waiters.push({ resolve, reject });
    });
  }

  private seal(): void {
    this.sealOpen();
    void this.run();
  }

  private sealOpen(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.dueAt = Infinity;
    this.due = false;
    if (this.open.items.length > 0 || this.open.waiters.length > 0) {
      this.sealed.push(this.open);
      this.open = { items: [], waiters: [] };
    }
  }

  /** The next batch to flush: a sealed one, else the open one if its deadline passed. */
  private next(): Batch<T> | undefined {
    if (this.sealed.length === 0 && this.due) this.sealOpen();
    return this.sealed.shift();
  }

  private async run(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let batch = this.next(); batch; batch = this.next()) {
        try {
          if (batch.items.length > 0) await this.flushFn(batch.items);
        } catch (error) {
          this.fail(error, batch);
          return;
        }
        for (const w of batch.waiters) w.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** A failed flush fails everything after it too: nothing later may be acknowledged out of order. */
  private fail(error: unknown, batch: Batch<T>): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const all = [batch, ...this.sealed.splice(0), this.open];
    this.open = { items: [], waiters: [] };
    for (const b of all) for (const w of b.waiters) w.reject(this.failure);
  }
}
