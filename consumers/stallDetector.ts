/**
 * The worker's side of the stall watch: which partitions it owns and when each last delivered a
 * batch, the broker's log ends (through an admin client of its own, so a stuck consumer cannot
 * hide them), the database checkpoints, and one warning per stall.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from '../src/db/pool.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { listCheckpoints } from './checkpoints.js';
import { watchForStalls, type LogEnds, type StalledPartition, type StallWatch } from './stallWatch.js';

export interface StallDetector {
  /** A join: these partitions are ours from now, each as if it had just delivered. */
  assigned(owned: readonly number[]): void;
  delivered(partition: number): void;
  /** Resolves at the next stall, or the next call of `replace`, while `active()` holds. */
  stalled(): Promise<'stalled'>;
  /** The consumer is broken in a way the worker saw itself: replace it as for a stall. */
  replace(reason: 'coordinator_lost', detail: Record<string, unknown>, message: string): void;
  stop(): void;
  /** Stops, and closes the admin client. */
  close(): Promise<void>;
}

export function createStallDetector(deps: {
  readonly kafka: Kafka;
  readonly pool: Pool;
  readonly topic: string;
  readonly checkpointName: string;
  /** 0: off. */
  readonly stallMs: number;
  readonly idle: (partition: number) => boolean;
  readonly active: () => boolean;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}): StallDetector {
  const { kafka, pool, topic, checkpointName, stallMs, logger, metrics } = deps;
  const lastDeliveredAt = new Map<number, number>();
  let admin: Promise<Admin> | undefined;
  let onStall: (() => void) | undefined;
  let watch: StallWatch | undefined;

  async function connectedAdmin(): Promise<Admin> {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  }

  async function logEnds(): Promise<ReadonlyMap<number, LogEnds>> {
    const offsets = await (await connectedAdmin()).fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  }

  async function checkpoints(): Promise<ReadonlyMap<number, number>> {
    const rows = await listCheckpoints(pool, checkpointName);
    return new Map(rows.filter((r) => r.topic === topic).map((r) => [r.partition, Number(r.next_offset)]));
  }

  function replaceConsumer(
    reason: 'stalled' | 'coordinator_lost',
    detail: Record<string, unknown>,
    message: string,
  ): void {
    if (!deps.active() || onStall === undefined) return;
    metrics?.consumerRestarts.inc({ reason });
    logger.warn(detail, message);
    const resolve = onStall;
    onStall = undefined;
    lastDeliveredAt.clear();
    resolve();
  }

  function stalled(found: readonly StalledPartition[]): void {
    replaceConsumer(
      'stalled',
      { stalled: found, stallTimeoutMs: stallMs },
      'partitions have messages beyond the checkpoint and delivered no batch for the stall timeout: ' +
        'the consumer is stuck (tulios/kafkajs#1152); starting a new one, from the checkpoint',
    );
  }

  if (stallMs > 0) {
    watch = watchForStalls({
      stallMs,
      intervalMs: Math.max(1_000, Math.floor(stallMs / 4)),
      partitions: () =>
        deps.active()
          ? [...lastDeliveredAt].map(([partition, at]) => ({
              partition,
              lastDeliveredAt: at,
              idle: deps.idle(partition),
            }))
          : [],
      logEnds,
      checkpoints,
      onStall: stalled,
      logger,
    });
  }

  function stop(): void {
    watch?.stop();
    onStall = undefined;
  }

  return {
    assigned(owned) {
      lastDeliveredAt.clear();
      const now = Date.now();
      for (const partition of owned) lastDeliveredAt.set(partition, now);
    },
    delivered(partition) {
      lastDeliveredAt.set(partition, Date.now());
    },
    stalled() {
      return new Promise((resolve) => {
        onStall = () => resolve('stalled');
      });
    },
    replace: replaceConsumer,
    stop,
    async close() {
      stop();
      const a = admin;
      admin = undefined;
      if (a === undefined) return;
      try {
        await (await a).disconnect();
      } catch (error) {
        logger.debug({ err: error }, 'stall watch admin: nothing to disconnect');
      }
    },
  };
}
