import type { Pool, PoolClient, Queryable } from '../src/db/pool.js';
import type { BetEvent, BetRef } from '../src/events/types.js';
import type { StageClock } from '../src/observability/stages.js';
import type { BoundColumn } from '../src/db/dialect.js';

export interface ProjectionResult {
  /** Rows written (that passed the version guard). */
  readonly rowsWritten: number;
  /** Delivered events the view already had (duplicates, replays, late deliveries). */
  readonly staleEvents: number;
  /** Bets re-folded from the event store because the delivery left a version gap. */
  readonly refoldedBets: number;
  /**
   * Bets held at a stored event of a type this version does not know (a newer producer's), by
   * that type: folded up to it and no further until a version that knows it re-folds them.
   */
  readonly held?: Readonly<Record<string, number>>;
  /**
   * For the caller to run once its transaction has committed (never after a rollback): lets a
   * projection remember what is now in the table.
   */
  readonly afterCommit?: () => void;
  /**
   * The statements write() sent once its first statements were answered (the followers' changes),
   * settling when they are answered: the caller sends COMMIT behind them and waits for this too.
   */
  readonly inFlight: Promise<unknown>;
}

/** A batch read and folded, not yet written. */
export interface PreparedWrite {
  /**
   * Sends the batch's rows on `client` — synchronously, before the first await — and resolves once
   * the database has answered them and the followers' changes, built from that answer, are sent
   * (their answer is the result's `inFlight`). A caller keeps a transaction to two round trips:
   * BEGIN with this, then the rest of its statements and COMMIT behind `inFlight`.
   */
  write(client: PoolClient): Promise<ProjectionResult>;
}

/** A row bets_view's UPSERT accepted, as its followers read it. */
export interface Transition {
  readonly tenantId: number;
  readonly betId: string;
  readonly userId: string | null;
  readonly currency: string | null;
  /** NUMERIC as PostgreSQL returns it: an exact decimal string. Fixed by version 1, like odds. */
  readonly amount: string | null;
  readonly odds: string | null;
  readonly status: string;
  readonly payout: string | null;
  /** The placing event's time (ms since the epoch); null while the bet's version 1 is unknown. */
  readonly placedAt: number | null;
  /** The time of the row's last event (ms since the epoch). */
  readonly eventAt: number;
  /** What the row was before this write; null when the row is new. */
  readonly previous: {
    readonly status: string;
    readonly payout: string | null;
    /** Null for a row last written before migration 012. */
    readonly eventAt: number | null;
  } | null;
}

/**
 * A table a follower adds to: rows keyed by `key`, each column of `sums` added to what is stored
 * (a row not there yet starts from the first addition).
 */
export interface SummedTable {
  readonly table: string;
  readonly key: readonly BoundColumn[];
  readonly sums: readonly BoundColumn[];
  /** More assignments of the addition, `x` being the stored row: `version = x.version + 1`. */
  readonly alsoSet?: readonly string[];
}

/**
 * A read model derived from bets_view's accepted row transitions rather than from events: written
 * in bets_view's own transaction, from exactly the rows the version guard accepted, so it can never
 * count a bet twice or miss one, whichever path wrote the row. It states its change once, as a pure
 * function of the transitions; the dialect decides the form of the statement that adds it.
 */
export interface TransitionFollower {
  /** The read model's name (its table). */
  readonly name: string;
  readonly adds: SummedTable;
  /**
   * What the transitions add: one row per key they moved (key values, then sums, in the
   * declaration's order; decimals as exact strings), in key order, so two flushes touching the
   * same keys lock their rows in the same order. Pure.
   */
  deltas(transitions: readonly Transition[]): Array<readonly unknown[]>;
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
  /**
   * The type of its next unprojected event when this version does not know it: the bet is held
   * there until a version that knows it re-folds the bet (`projector repair`); null otherwise.
   */
  readonly heldBy: string | null;
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
