/**
 * A consumer that stops fetching while its partitions hold messages looks alive — it still
 * heartbeats, so the liveness probe passes — and projects nothing. The failover suite met one after
 * a group coordinator moved: offset commits failed with NOT_COORDINATOR, and no batch came again
 * (tulios/kafkajs#1152). The watch judges by what matters rather than by kafkajs's state: a partition
 * this worker owns has messages beyond the database checkpoint, no batch of it has arrived for the
 * stall timeout, and nothing is buffered or flushing (the worker waits on Kafka, not on the
 * database). Then the worker starts a new consumer; the checkpoint makes that safe at any moment.
 */
import type { Logger } from '../src/observability/logger.js';

/** An owned partition as the worker sees it. */
export interface WatchedPartition {
  readonly partition: number;
  /** When its last batch arrived, or when it was assigned (ms since the epoch). */
  readonly lastDeliveredAt: number;
  /** Nothing of it buffered or flushing. */
  readonly idle: boolean;
}

/** The partition's log, as the broker reports it. */
export interface LogEnds {
  readonly low: number;
  readonly high: number;
}

export interface StalledPartition {
  readonly partition: number;
  readonly silentMs: number;
  /** Messages beyond the checkpoint. */
  readonly behind: number;
}

/**
 * Partitions silent for at least `stallMs`: the only ones worth asking the broker about. None while
 * any partition is busy: kafkajs hands out the batches of one fetch before it fetches again, so a
 * flush that waits on the database (retrying an outage, say) holds every partition's next batch.
 */
export function silentPartitions(
  partitions: readonly WatchedPartition[],
  now: number,
  stallMs: number,
): WatchedPartition[] {
  if (partitions.some((p) => !p.idle)) return [];
  return partitions.filter((p) => now - p.lastDeliveredAt >= stallMs);
}

/**
 * Of the silent partitions, those with messages beyond the checkpoint (a partition never
 * checkpointed starts at its log's low end). A partition the broker did not report is left out:
 * no verdict without evidence.
 */
export function stalledPartitions(input: {
  readonly silent: readonly WatchedPartition[];
  readonly now: number;
  readonly ends: ReadonlyMap<number, LogEnds>;
  readonly checkpoints: ReadonlyMap<number, number>;
}): StalledPartition[] {
  const stalled: StalledPartition[] = [];
  for (const p of input.silent) {
    const ends = input.ends.get(p.partition);
    if (ends === undefined) continue;
    const from = Math.max(input.checkpoints.get(p.partition) ?? 0, ends.low);
    const behind = ends.high - from;
    if (behind > 0) stalled.push({ partition: p.partition, silentMs: input.now - p.lastDeliveredAt, behind });
  }
  return stalled;
}

export interface StallWatch {
  stop(): void;
}

/**
 * Looks every `intervalMs`; asks the broker and the database only when a partition has been silent
 * for `stallMs`. A question that fails (a broker down is the ordinary reason) is no verdict: the
 * next look asks again.
 */
export function watchForStalls(deps: {
  readonly stallMs: number;
  readonly intervalMs: number;
  readonly partitions: () => readonly WatchedPartition[];
  readonly logEnds: () => Promise<ReadonlyMap<number, LogEnds>>;
  readonly checkpoints: () => Promise<ReadonlyMap<number, number>>;
  readonly onStall: (stalled: readonly StalledPartition[]) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}): StallWatch {
  const now = deps.now ?? Date.now;
  let looking = false;
  async function look(): Promise<void> {
    const silent = silentPartitions(deps.partitions(), now(), deps.stallMs);
    if (silent.length === 0) return;
    const [ends, checkpoints] = await Promise.all([deps.logEnds(), deps.checkpoints()]);
    // The answers took time: a batch may have arrived meanwhile.
    const still = silentPartitions(deps.partitions(), now(), deps.stallMs);
    const stalled = stalledPartitions({ silent: still, now: now(), ends, checkpoints });
    if (stalled.length > 0) deps.onStall(stalled);
  }
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    look()
      .catch((error: unknown) =>
        deps.logger.debug({ err: error }, 'stall check could not ask; next look asks again'),
      )
      .finally(() => {
        looking = false;
      });
  }, deps.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
