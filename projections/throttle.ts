/**
 * A rate for the heavy commands (rebuild --tenant, repair) so they can run beside production
 * traffic: after each unit of work the caller reports how many events it covered, and waits until
 * the average since the start is back at or below the rate. No rate: no wait.
 */
export interface Throttle {
  /** Counts `events` done; resolves once the average rate allows the next batch. */
  take(events: number): Promise<void>;
  /** Milliseconds spent waiting so far. */
  readonly waitedMs: number;
}

export interface ThrottleClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export function throttle(maxEventsPerSecond: number | undefined, clock: ThrottleClock = realClock): Throttle {
  const started = clock.now();
  let done = 0;
  let waitedMs = 0;
  return {
    async take(events) {
      if (maxEventsPerSecond === undefined) return;
      done += events;
      const due = started + (done / maxEventsPerSecond) * 1000;
      const wait = due - clock.now();
      if (wait > 0) {
        waitedMs += wait;
        await clock.sleep(wait);
      }
    },
    get waitedMs() {
      return Math.round(waitedMs);
    },
  };
}
