/**
 * Kafka offset commits, off the flush's path. The database checkpoint is what a partition resumes
 * from; Kafka's committed offset only spares the next owner re-reading what is already applied. So
 * a flush hands its offsets over and goes on: the next commit carries the newest offset of every
 * partition handed over meanwhile, one request in flight. Awaited, a commit stuck on a group
 * coordinator that moved held every flush for the minute of its retries (the failover suite met
 * it: kafkajs asks the old coordinator again, tulios/kafkajs#1069).
 *
 * Commits start at most once per `intervalMs` (KAFKA_OFFSET_COMMIT_INTERVAL_MS). A caught-up worker
 * flushes many times a second, and a commit per flush is a write to the group coordinator's
 * __consumer_offsets for each: one coordinator takes the whole group's. Waiting costs
 * the next owner of a partition at most an interval's messages to read again, which it skips
 * below the checkpoint. `settle` commits what is pending at once (shutdown, a consumer replaced).
 */
export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface OffsetCommits {
  /** Hands offsets over (each is the next offset to read); returns at once. */
  submit(offsets: readonly PartitionOffset[]): void;
  /** Commits what is pending now, whatever the interval; settles once all is committed, or failed. */
  settle(): Promise<void>;
}

export function offsetCommits(deps: {
  /** Commits, or throws; a failure is the caller's to report (the checkpoint stands). */
  readonly commit: (offsets: PartitionOffset[]) => Promise<void>;
  readonly onFailure: (error: unknown, offsets: readonly PartitionOffset[]) => void;
  /** The least time from one commit's start to the next one's; 0 commits as soon as one is free. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}): OffsetCommits {
  const intervalMs = deps.intervalMs ?? 0;
  const now = deps.now ?? (() => performance.now());
  const pending = new Map<string, PartitionOffset>();
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastStartedAt = -Infinity;

  function send(): void {
    const offsets = [...pending.values()];
    pending.clear();
    lastStartedAt = now();
    inFlight = deps
      .commit(offsets)
      .catch((error: unknown) => deps.onFailure(error, offsets))
      .finally(() => {
        inFlight = undefined;
        schedule();
      });
  }

  /** Sends what is pending once no commit is in flight and the interval since the last has passed. */
  function schedule(): void {
    if (inFlight || timer || pending.size === 0) return;
    const wait = lastStartedAt + intervalMs - now();
    if (wait <= 0) {
      send();
      return;
    }
    // Unreferenced: a pending commit never keeps the process alive; shutdown settles it.
    timer = setTimeout(() => {
      timer = undefined;
      schedule();
    }, wait);
    timer.unref();
  }

  function cancelTimer(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  return {
    submit(offsets) {
      for (const o of offsets) {
        const key = `${o.topic}:${o.partition}`;
        const known = pending.get(key);
        if (!known || BigInt(known.offset) < BigInt(o.offset)) pending.set(key, o);
      }
      schedule();
    },
    async settle() {
      for (;;) {
        cancelTimer();
        if (inFlight) await inFlight;
        else if (pending.size > 0) send();
        else return;
      }
    },
  };
}
