import type { Pool, PoolClient, Queryable } from '../src/db/pool.js';
import type { BetEvent, BetRef } from '../src/events/types.js';
import type { StageClock } from '../src/observability/stages.js';

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
  /**
   * Statements write() sent once its first statement was answered, not yet answered themselves
   * (PreparedWrite.awaitsAnswer): the caller sends COMMIT behind them and waits for this too.
   */
  readonly inFlight?: Promise<unknown>;
}

/** A batch read and folded, not yet written. */
export interface PreparedWrite {
  /**
   * Sends the batch's writes on `client` — synchronously, before the first await, so a caller can
   * send the rest of its transaction behind them in the same round trip — and resolves once the
   * database has answered.
   */
  write(client: PoolClient): Promise<ProjectionResult>;
  /**
   * True when write() sends more once its first statement is answered (followers on Citus, see
   * TransitionFollower.follow): the caller sends nothing behind it — no COMMIT — until it
   * resolves, then awaits the result's `inFlight` with the rest of its transaction.
   */
  readonly awaitsAnswer?: boolean;
}

/** A statement and its bound values. */
export interface SqlStatement {
  readonly text: string;
  readonly values: unknown[];
}

/** A row bets_view's UPSERT accepted, as its followers read it (the relation `transitions`). */
export interface Transition {
  readonly tenantId: number;
  readonly betId: string;
  readonly userId: string | null;
  readonly currency: string | null;
  /** NUMERIC as PostgreSQL returns it: an exact decimal string. */
  readonly amount: string | null;
  readonly odds: string | null;
  readonly status: string;
  /** Its status before this write; null when the row is new. */
  readonly previousStatus: string | null;
}

/**
 * A read model derived from bets_view's row transitions rather than from events: it is written in
 * the same statement as bets_view, from exactly the rows the version guard accepted, so it can never
 * count a bet twice or miss one, whichever path wrote the row. `cte` is one or more common table
 * expressions (`name AS (…)`, joined by commas) that read the relation `transitions`:
 *   tenant_id, bet_id, user_id, currency, amount, odds, status — the row as written —
 *   previous_status — its status before this write, NULL when the row is new.
 */
export interface TransitionFollower {
  /** The read model's name (its table). */
  readonly name: string;
  readonly cte: string;
  /**
   * The same change as `cte`, as statements of their own built from the transitions the UPSERT
   * returned — the form for Citus, which runs a data-modifying CTE through the coordinator (every
   * flush's rows pulled there and pushed back to the shards; docs/benchmarks.md has the cost).
   * Sent once the UPSERT has answered, in its transaction. Pure: builds, does not send.
   */
  follow(transitions: readonly Transition[]): SqlStatement[];
  /** What bets_view says it must hold, against what it holds: its check (`projector lag`). */
  check(db: Queryable): Promise<FollowerCheck>;
  /**
   * Sets what differs, set-based, safe while workers run (`projector repair`); also its rebuild,
   * run after bets_view's. Returns the rows changed.
   */
  repair(pool: Pool): Promise<number>;
}

export interface FollowerCheck {
  /** Rows that differ from what bets_view says they must hold. */
  readonly differing: number;
  /** Some of them, as `{column: value}` for a report. */
  readonly sample: ReadonlyArray<Record<string, string | number>>;
}

/**
 * What a read model is, to the runtimes that feed it (worker, immediate mode, repair).
 */
export interface Projection {
  readonly name: string;
  /**
   * Reads what the batch needs (committed rows; no transaction required) and folds it. The worker
   * prepares outside its transaction, then sends the write, dead letters, checkpoints and COMMIT
   * in one round trip. `clock` times the read and fold stages.
   */
  prepare(db: Queryable, events: readonly BetEvent[], clock?: StageClock): Promise<PreparedWrite>;
  /** prepare + write on the caller's client, inside the caller's transaction. */
  project(client: PoolClient, events: readonly BetEvent[]): Promise<ProjectionResult>;
  /** Re-folds bets from the event store, on the caller's client, inside the caller's transaction. */
  refold(client: PoolClient, bets: readonly BetRef[]): Promise<number>;
}

/**
 * Which bets a reconciliation looks at: every bet, some tenants' or a list of bets, optionally
 * only those with events in [sinceMs, untilMs] (events newer than a grace period are in flight).
 */
export interface ReconcileScope {
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /** Only these tenants' bets (all tenants when absent). */
  readonly tenantIds?: readonly number[];
  /** Only these bets (all bets in scope when absent). */
  readonly bets?: readonly BetRef[];
}

/** A bet whose row is behind its stored events. */
export interface LaggingBet extends BetRef {
  readonly latestVersion: number;
  readonly viewVersion: number;
  /** How long its oldest unprojected event has waited. */
  readonly lagMs: number;
}

export interface RepairOptions {
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RepairResult {
  /** Bets re-folded (looked at). */
  readonly bets: number;
  /** Rows the re-fold changed: those whose version guard let the write through. */
  readonly rowsWritten: number;
}

/**
 * How the read models are checked and healed from the event store — the worker's reconciliation
 * sweep, `projector lag`, `projector repair` and what follows a rebuild all go through it.
 */
export interface Reconciler {
  /** Bets in `scope` with a stored event newer than their row. */
  laggingBets(db: Queryable, scope?: ReconcileScope): Promise<LaggingBet[]>;
  /** Re-folds `bets` through every read model. */
  repairBets(pool: Pool, bets: readonly BetRef[], options?: RepairOptions): Promise<RepairResult>;
  /** Each follower's check, by name. */
  checkFollowers(db: Queryable): Promise<Record<string, FollowerCheck>>;
  /** Each follower set to what bets_view says it must hold: rows changed, by name. */
  repairFollowers(pool: Pool): Promise<Record<string, number>>;
}
