/**
 * How many events a partition's next flush may hold, and how long it may wait for them.
 *
 * - Caught up (nothing on the broker beyond the last fetch): a flush of FLUSH_MAX_EVENTS or what
 *   arrived within FLUSH_LINGER_MS of its first event. Nothing more is there to wait for; and while
 *   a flush is in progress the next one keeps gathering (the buffer seals it when the flush ends),
 *   so under steady traffic flushes grow with the load instead of with a timer.
 * - A few events behind: up to FLUSH_INTERVAL_MS, for the next fetch to bring them.
 * - A backlog (more than FLUSH_MAX_EVENTS behind): up to FLUSH_BACKLOG_MAX_EVENTS at once, since
 *   every flush pays a transaction (and on Citus a task per shard it touches and a two-phase
 *   commit), whatever its size.
 */
export interface FlushSizeSettings {
  readonly flushMaxEvents: number;
  readonly flushBacklogMaxEvents: number;
}

export interface FlushWaitSettings {
  readonly flushIntervalMs: number;
  readonly flushLingerMs: number;
}

/**
 * `behind`: messages of the partition the broker holds beyond what the worker has fetched. More
 * than a small flush's worth behind is a backlog.
 */
export function flushCapacity(behind: number, settings: FlushSizeSettings): number {
  return behind > settings.flushMaxEvents ? settings.flushBacklogMaxEvents : settings.flushMaxEvents;
}

/** How long the partition's open flush may wait after its first event. */
export function flushWait(behind: number, settings: FlushWaitSettings): number {
  return behind === 0 ? settings.flushLingerMs : settings.flushIntervalMs;
}

/**
 * Events a partition may hold fetched but unflushed before its fetch loop waits: a few small
 * flushes' worth, or two large ones, so fetching overlaps flushing and memory stays bounded.
 */
export function maxPending(capacity: number, settings: FlushSizeSettings): number {
  return Math.max(settings.flushMaxEvents * 4, capacity * 2);
}
