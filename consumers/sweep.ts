/**
 * The reconciliation sweep: heals events that reached bet_events but never reached Kafka (a
 * producer that died between COMMIT and publish, publishing switched off by mistake). Every
 * interval, one worker at a time (advisory lock) re-folds the bets whose view is behind their
 * events within a look-back window, leaving a grace period for events still in flight.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../src/config.js';
import { classifyError } from '../src/errors.js';
import type { Pool } from '../src/db/pool.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { ROOT_CONTEXT, inSpan } from '../src/observability/tracing.js';
import type { Reconciler } from '../projections/projection.js';

const SWEEP_LOCK_ID = 0x73776570; // "swep"

export type SweepConfig = Pick<Config, 'sweepIntervalMs' | 'sweepWindowMs' | 'sweepGraceMs'>;

export interface SweepResult {
  readonly ran: boolean;
  /** Bets found behind their events. */
  readonly lagging: number;
  /** Of those, the bets whose row the re-fold changed (another writer may have got there first). */
  readonly repaired: number;
}

export async function sweepOnce(
  pool: Pool,
  config: SweepConfig,
  reconciler: Reconciler,
  now = Date.now(),
): Promise<SweepResult> {
  const lock = await pool.connect();
  try {
    const { rows } = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      SWEEP_LOCK_ID,
    ]);
    if (!rows[0]?.ok) return { ran: false, lagging: 0, repaired: 0 };
    try {
      // A held bet (its next event of a type this version does not know) would re-fold to the same
      // row every time: projector lag lists it, an upgraded worker or projector repair brings it on.
      const bets = (
        await reconciler.laggingBets(pool, {
          sinceMs: now - config.sweepWindowMs,
          untilMs: now - config.sweepGraceMs,
        })
      ).filter((b) => b.heldBy === null);
      if (bets.length === 0) return { ran: true, lagging: 0, repaired: 0 };
      const { rowsWritten } = await reconciler.repairBets(pool, bets);
      return { ran: true, lagging: bets.length, repaired: rowsWritten };
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK_ID]);
    }
  } finally {
    lock.release();
  }
}

/** Runs the sweep every interval until `signal` aborts; errors are logged, never fatal. */
export async function runSweep(deps: {
  pool: Pool;
  config: SweepConfig;
  reconciler: Reconciler;
  logger: Logger;
  metrics?: Metrics;
  signal: AbortSignal;
}): Promise<void> {
  const { pool, config, reconciler, metrics, signal } = deps;
  const logger = deps.logger.child({ stage: 'sweep' });
  if (config.sweepIntervalMs === 0) return;
  while (!signal.aborted) {
    try {
      await sleep(config.sweepIntervalMs, undefined, { signal });
    } catch {
      return;
    }
    try {
      // A root span per pass (sampled as the sampler decides), its statements as its children.
      const result = await inSpan(
        'sweep',
        { parent: ROOT_CONTEXT, activeOnlyWhenSampled: true },
        async (span) => {
          const swept = await sweepOnce(pool, config, reconciler);
          span.setAttributes({
            'bet_projector.sweep.ran': swept.ran,
            'bet_projector.lagging_bets': swept.lagging,
            'bet_projector.repaired_bets': swept.repaired,
          });
          return swept;
        },
      );
      if (result.repaired > 0) metrics?.repairedBets.inc({ source: 'sweep' }, result.repaired);
      if (result.lagging > 0) {
        logger.warn(
          { lagging: result.lagging, repaired: result.repaired },
          'sweep re-folded bets whose events had not reached the view',
        );
      }
    } catch (error) {
      metrics?.errors.inc({ kind: 'sweep' });
      // A deadlock with a flush over the same followers' rows, a connection lost: the flush retries
      // its side, and the next sweep finds whatever is still behind. Only the rest needs a person.
      if (classifyError(error) === 'retryable')
        logger.warn({ err: error }, 'sweep met a transient error; the next sweep tries again');
      else logger.error({ err: error }, 'sweep failed');
    }
  }
}
