/**
 * Where a worker's time goes, stage by stage: decode (Kafka message → validated event), read (the
 * stored rows it does not remember and, for gaps, the stored events), fold (pure planning), connect
 * (waiting for a pooled connection) and transaction (the flush's one round trip: BEGIN, UPSERT,
 * dead letters, checkpoints, COMMIT and its WAL flush). Exported as a counter of seconds per stage,
 * so rate() over it shows the split while the worker runs.
 */
export const STAGES = ['decode', 'read', 'fold', 'connect', 'transaction'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageClock {
  time<T>(stage: Stage, work: () => Promise<T>): Promise<T>;
  timeSync<T>(stage: Stage, work: () => T): T;
}

export function stageClock(observe: (stage: Stage, seconds: number) => void): StageClock {
  const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
  return {
    async time(stage, work) {
      const start = process.hrtime.bigint();
      try {
        return await work();
      } finally {
        observe(stage, since(start));
      }
    },
    timeSync(stage, work) {
      const start = process.hrtime.bigint();
      try {
        return work();
      } finally {
        observe(stage, since(start));
      }
    },
  };
}

/** A clock that measures nothing: for callers without metrics (immediate mode, repair, tests). */
export const noClock: StageClock = {
  time: (_stage, work) => work(),
  timeSync: (_stage, work) => work(),
};
