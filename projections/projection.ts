import type { PoolClient } from '../src/db/pool.js';
import type { BetEvent } from '../src/events/types.js';
import type { StageClock } from '../src/observability/stages.js';
import type { BetRef } from './bets/plan.js';

export interface ProjectionResult {
  /** Rows written (that passed the version guard). */
  readonly rowsWritten: number;
  /** Delivered events the view already had (duplicates, replays, late deliveries). */
  readonly staleEvents: number;
  /** Bets re-folded from the event store because the delivery left a version gap. */
  readonly refoldedBets: number;
  /**
   * For the caller to run once its transaction has committed (never after a rollback): lets a
   * projection remember what is now in the table.
   */
  readonly afterCommit?: () => void;
}

/**
 * What a read model is, to the runtimes that feed it (worker, immediate mode, repair). Every method
 * runs on the caller's client, inside the caller's transaction.
 */
export interface Projection {
  readonly name: string;
  /** `clock` times the read, fold and write stages (the worker's per-stage metrics). */
  project(client: PoolClient, events: readonly BetEvent[], clock?: StageClock): Promise<ProjectionResult>;
  refold(client: PoolClient, bets: readonly BetRef[]): Promise<number>;
}
