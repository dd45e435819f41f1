/**
 * Kafka offset commits, off the flush's path. The database checkpoint is what a partition resumes
 * from; Kafka's committed offset only spares the next owner re-reading what is already applied. So
 * a flush hands its offsets over and goes on: the next commit carries the newest offset of every
 * partition handed over meanwhile, one request in flight. Awaited, a commit stuck on a group
 * coordinator that moved held every flush for the minute of its retries (the failover suite met
 * it: kafkajs asks the old coordinator again, tulios/kafkajs#1069).
 */
export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface OffsetCommits {
  /** Hands offsets over (each is the next offset to read); returns at once. */
  submit(offsets: readonly PartitionOffset[]): void;
  /** Settles once everything handed over has been committed, or failed. */
  settle(): Promise<void>;
}

export function offsetCommits(deps: {
  /** Commits, or throws; a failure is the caller's to report (the checkpoint stands). */
  readonly commit: (offsets: PartitionOffset[]) => Promise<void>;
  readonly onFailure: (error: unknown, offsets: readonly PartitionOffset[]) => void;
}): OffsetCommits {
  const pending = new Map<string, PartitionOffset>();
  let inFlight: Promise<void> | undefined;

  async function drain(): Promise<void> {
    while (pending.size > 0) {
      const offsets = [...pending.values()];
      pending.clear();
      try {
        await deps.commit(offsets);
      } catch (error) {
        deps.onFailure(error, offsets);
      }
    }
  }

  function start(): void {
    if (inFlight) return;
    inFlight = drain().finally(() => {
      inFlight = undefined;
    });
  }

  return {
    submit(offsets) {
      for (const o of offsets) {
        const key = `${o.topic}:${o.partition}`;
        const known = pending.get(key);
        if (!known || BigInt(known.offset) < BigInt(o.offset)) pending.set(key, o);
      }
      if (pending.size > 0) start();
    },
    async settle() {
      while (inFlight) await inFlight;
    },
  };
}
