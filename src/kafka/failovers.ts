/**
 * Ordinary failovers, told once. A broker that dies and comes back, a partition leader that moves,
 * in-sync replicas that shrink for a while: kafkajs reconnects, refreshes its metadata and retries
 * by itself, logging an error line on every attempt (dozens a second for one broker). An operator
 * pages on error lines, and here nothing needs them yet: the first line of an episode is a warning
 * that says what it means, the rest go to debug. An episode ends after a quiet spell without such
 * lines for that broker; what outlasts the retries still surfaces, as the caller's own error.
 */

/** What kafkajs logs for troubles it rides through by reconnecting or refreshing metadata. */
const FAILOVER_SIGNS: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|Connection timeout|Closed connection/i,
    'the broker is unreachable',
  ],
  [/Failed to connect to seed broker/i, 'a seed broker is unreachable; another of KAFKA_BROKERS is tried'],
  [
    /not the leader for that topic-partition|no leader for this topic-partition|leadership election/i,
    'a partition leader moved',
  ],
  [
    /fewer in-sync replicas than required|NOT_ENOUGH_REPLICAS/i,
    'in-sync replicas are below min.insync.replicas: writes wait for a replica to return',
  ],
  [/Broker not available|The broker is not available/i, 'the broker is not available'],
  [
    /out of order sequence number/i,
    "the idempotent producer's sequence was lost in a failover; the publisher starts a new producer and sends again",
  ],
];

/** What a failover line means, or undefined for a line that is not one. */
export function failoverMeaning(text: string): string | undefined {
  return FAILOVER_SIGNS.find(([sign]) => sign.test(text))?.[1];
}

/** One episode per broker: opened by its first failover line, closed after `quietMs` without one. */
export function failoverEpisodes(quietMs = 60_000, now: () => number = Date.now) {
  const lastSeen = new Map<string, number>();
  return {
    /** Counts a failover line of `broker`; true when it opens an episode (log it), false inside one. */
    opens(broker: string): boolean {
      const at = now();
      const last = lastSeen.get(broker);
      lastSeen.set(broker, at);
      return last === undefined || at - last > quietMs;
    },
  };
}
