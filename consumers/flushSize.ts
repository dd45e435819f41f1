/**
 * How many events a partition's next flush may hold. Small and prompt when the partition is caught
 * up: a flush of FLUSH_MAX_EVENTS or whatever arrived within FLUSH_INTERVAL_MS. Large when it has a
 * backlog: every flush pays a transaction (and on Citus a task per shard it touches and a two-phase
 * commit), whatever its size, so a worker catching up flushes up to FLUSH_BACKLOG_MAX_EVENTS at once.
 * The deadline is the same in both modes, so a flush never waits longer for its events.
 */
export interface FlushSizeSettings {
  readonly flushMaxEvents: number;
  readonly flushBacklogMaxEvents: number;
}

/**
 * `behind`: messages of the partition the broker holds beyond what the worker has fetched. More
 * than a small flush's worth behind is a backlog.
 */
export function flushCapacity(behind: number, settings: FlushSizeSettings): number {
  return behind > settings.flushMaxEvents ? settings.flushBacklogMaxEvents : settings.flushMaxEvents;
}

/**
 * Events a partition may hold fetched but unflushed before its fetch loop waits: a few small
 * flushes' worth, or two large ones, so fetching overlaps flushing and memory stays bounded.
 */
export function maxPending(capacity: number, settings: FlushSizeSettings): number {
  return Math.max(settings.flushMaxEvents * 4, capacity * 2);
}
