import type { Pool, PoolClient, Queryable } from '../src/db/pool.js';
import type { BetEvent, BetRef } from '../src/events/types.js';
import type { StageClock } from '../src/observability/stages.js';
import type { BoundColumn } from '../src/db/dialect.js';
import type { Throttle } from './throttle.js';

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
   * The statements write() sent once its first statements were answered (see awaitsAnswer),
   * settling when they are answered: the caller sends COMMIT behind them and waits for this too.
   */
  readonly inFlight: Promise<unknown>;
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
   * True when write() sends more once its first statements are answered (followers where the
   * dialect does not chain writes in one statement): the caller sends nothing behind it — no
   * COMMIT — until it resolves, then awaits the result's `inFlight` with the rest of its
   * transaction.
   */
  readonly awaitsAnswer: boolean;
}

/**
 * The rows bets_view's UPSERT accepted, as its followers read them: the relation `transitions`,
 * one row per accepted write — the row as written, and what it was before the write (previous_*:
 * NULL when the row is new). previous_payout and previous_event_at are there where the row before
 * had a payout (settled or cashed out), NULL otherwise and for a row last written before
 * migration 012.
 * Stake, legs, odds, currency, user and placing time are fixed by version 1, so the row as written says
 * what they were before too.
 */
export const TRANSITION_RELATION: readonly BoundColumn[] = [
  { name: 'tenant_id', bound: 'bigint' },
  { name: 'bet_id', bound: 'text' },
  { name: 'user_id', bound: 'text' },
  { name: 'currency', bound: 'text' },
  { name: 'amount', bound: 'numeric' },
  /** The product of the legs' odds; NULL on a row last written before migration 015 (use odds). */
  { name: 'combined_odds', bound: 'numeric' },
  { name: 'odds', bound: 'numeric' },
  { name: 'status', bound: 'text' },
  { name: 'payout', bound: 'numeric' },
  /** The placing event's time. */
  { name: 'placed_at', bound: 'timestamptz' },
  /** The time of the row's last event, in milliseconds since the epoch. */
  { name: 'event_at', bound: 'bigint' },
  { name: 'previous_status', bound: 'text' },
  { name: 'previous_payout', bound: 'numeric' },
  { name: 'previous_event_at', bound: 'bigint' },
];

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
  /**
   * A table of `key` then `sums` (their names, their bound types), with `batch_id uuid` and
   * `ordinal bigint`, distributed beside `table`: on Citus a large addition goes through it
   * (BulkInsert.staged). Worth it where a flush adds to about as many rows as it writes bets.
   */
  readonly staged?: string;
}

/**
 * A read model derived from bets_view's accepted row transitions rather than from events: written
 * in bets_view's own transaction, from exactly the rows the version guard accepted, so it can never
 * count a bet twice or miss one, whichever path wrote the row. It states its change once, in SQL
 * over `transitions`; the dialect decides how that travels (in the UPSERT's own statement on
 * PostgreSQL; on Citus, summed over the transitions the UPSERT returned, then added as rows routed
 * to their shards).
 */
export interface TransitionFollower {
  /** The read model's name (its table). */
  readonly name: string;
  readonly adds: SummedTable;
  /**
   * Its change: a SELECT over `transitions` (TRANSITION_RELATION) giving `adds`' key columns then
   * its sums, one row per contribution; the statement sums them per key and adds them.
   */
  readonly change: string;
  /** What bets_view says it must hold, against what it holds: its check (`projector lag`). */
  check(db: Queryable, scope?: FollowerScope): Promise<FollowerCheck>;
  /**
   * Sets what differs, set-based, safe while workers run (`projector repair`); also its rebuild,
   * run after bets_view's. Returns the rows changed.
   */
  repair(pool: Pool, scope?: FollowerScope): Promise<number>;
}

/** Which rows of a follower a check or repair looks at: these tenants' (default all). */
export interface FollowerScope {
  readonly tenantIds?: readonly number[];
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
  /** Holds the events re-folded per second to a rate (projections/throttle.ts). */
  readonly throttle?: Throttle;
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
  /** Re-folds `bets` through every read model (a lagging bet's latestVersion counts its events for a throttle). */
  repairBets(
    pool: Pool,
    bets: ReadonlyArray<BetRef & { readonly latestVersion?: number }>,
    options?: RepairOptions,
  ): Promise<RepairResult>;
  /** Each follower's check, by name. */
  checkFollowers(db: Queryable, scope?: FollowerScope): Promise<Record<string, FollowerCheck>>;
  /** Each follower set to what bets_view says it must hold: rows changed, by name. */
  repairFollowers(pool: Pool, scope?: FollowerScope): Promise<Record<string, number>>;
  /** Bets whose row is not the fold of their events, every column compared (`projector verify`). */
  differingBets(db: Queryable, scope: VerifyScope): Promise<DifferingBet[]>;
  /**
   * Rewrites the rows differingBets found with their fold, where the bet has events and the row is
   * not ahead of them; the rows rewritten (the followers are left to repairFollowers).
   */
  healDiffering(pool: Pool, bets: readonly DifferingBet[], throttle?: Throttle): Promise<number>;
}

/** Which bets verify compares: these tenants (default all), these bet ids of them. */
export interface VerifyScope {
  readonly tenantIds?: readonly number[];
  readonly betIds?: readonly string[];
  /** A row behind only by events newer than this (ms since the epoch) is in flight. */
  readonly cutoffMs: number;
}

/** A bet whose view row is not the fold of its stored events. */
export interface DifferingBet {
  readonly tenantId: number;
  readonly betId: string;
  /** The fold's version, or null: a view row without stored events. */
  readonly foldVersion: number | null;
  /** The row's version, or null: stored events without a view row. */
  readonly viewVersion: number | null;
  /** The columns that differ (every column, when a side is missing). */
  readonly columns: readonly string[];
}
