/**
 * The event store: append a batch in one statement and one transaction, then publish it (what was
 * new, and the stored copy of what was already there — see `toPublish`).
 * Immediate mode writes the view rows in that same transaction, for callers that must read their
 * own writes.
 */
import { inPipelinedTransaction, inTwoStepTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { withRetry, type RetryPolicy } from '../errors.js';
import { betKey, deliveredBets, type BetEvent } from '../events/types.js';
import type { EventPublisher } from '../kafka/publisher.js';
import { inSpan, type Span } from '../observability/tracing.js';
import { ConcurrencyConflictError, checkContiguous, splitBatch } from './batch.js';
import { groupCommits, type GroupCommitOptions } from './groupCommit.js';
import { DEFAULT_APPEND_GROUP_MAX_EVENTS, DEFAULT_APPEND_MAX_TRANSACTIONS } from '../config.js';
import { type Inserted, insertEvents, selectEventsOfBets, selectPositions } from './statements.js';

export { ConcurrencyConflictError } from './batch.js';

type Projection = 'async' | 'immediate';

export interface AppendOptions {
  /** 'immediate': also write the view rows in the append transaction. Default 'async' (the worker). */
  readonly projection?: Projection;
}

export interface AppendResult {
  /** Events stored by this call, in input order. */
  readonly appended: BetEvent[];
  /** Events whose (tenant_id, idempotency_key) was already stored, or repeated in the batch. */
  readonly duplicates: BetEvent[];
}

/** The events were committed to the store, but publishing them to Kafka failed. */
export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(
    readonly result: AppendResult,
    cause: unknown,
  ) {
    super(
      `${result.appended.length} events were stored but not published to Kafka (${(cause as Error).message}); ` +
        'the reconciliation sweep or `projector repair` projects them',
      { cause },
    );
  }
}

/** The steps of an append a transient fault can interrupt, each retried on its own. */
export type AppendStep = 'store' | 'read back' | 'publish';

/**
 * How an append rides through a transient fault (a connection killed, a node or broker away):
 * each step is retried with backoff up to the policy's bound. Safe because appends are idempotent
 * on (tenant_id, idempotency_key) — a store whose commit took effect but whose answer was lost
 * comes back as duplicates, which are published again — and the view's version guard makes a
 * second publish change nothing.
 */
export interface AppendRetry {
  readonly policy: RetryPolicy;
  readonly signal?: AbortSignal;
  /**
   * The publish step gives up this long after it began (PUBLISH_DEADLINE_MS), whatever attempts
   * remain: while brokers drop in-sync replicas each send can be held for the broker's request
   * timeout, so a bound in attempts alone can keep a caller waiting for minutes. The events are
   * stored by then; the sweep projects them.
   */
  readonly publishDeadlineMs?: number;
  /** Told before each wait, so the caller can say so. */
  readonly onRetry?: (step: AppendStep, error: unknown, attempt: number, delayMs: number) => void;
  /**
   * Told how a step left behind at its deadline ended, when it ends: `undefined` if it succeeded
   * after all (its events are in Kafka too), else its error. The append already failed with the
   * deadline's error; this is what a log can add to it.
   */
  readonly onAbandoned?: (step: AppendStep, error: unknown) => void;
}

/** One attempt per step: the caller retries, or not. */
const NO_RETRY: AppendRetry = { policy: { initialMs: 1, maxMs: 1, maxAttempts: 1 } };

/** The publish step was still unacknowledged at AppendRetry.publishDeadlineMs. */
export class PublishDeadlineError extends Error {
  override readonly name = 'PublishDeadlineError';
  constructor(
    readonly deadlineMs: number,
    readonly attempts: number,
    lastError: unknown,
  ) {
    super(
      `no acknowledgement from Kafka within PUBLISH_DEADLINE_MS=${deadlineMs} ms, ${attempts} attempt(s)` +
        (lastError === undefined
          ? ', the first still unanswered'
          : `; the last failure: ${(lastError as Error).message}`),
      { cause: lastError },
    );
  }
}

/** A step of an append still failed when its retries ran out. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  constructor(
    readonly step: AppendStep,
    readonly attempts: number,
    readonly elapsedMs: number,
    cause: unknown,
  ) {
    super(
      `${step} gave up after ${attempts} attempts over ${(elapsedMs / 1000).toFixed(1)} s ` +
        `(${(cause as Error).message})` +
        (step === 'store'
          ? ': the batch may or may not be stored; appending the same events again is safe (duplicates are recognised)'
          : ''),
      { cause },
    );
  }
}

/**
 * Immediate mode's read-model write, in two halves so the store can send it behind its own
 * statements: given the events this append stored (on the append's own client, inside its
 * transaction, the insert already answered), read and fold what it needs; then `write` sends the
 * rows. The store knows nothing more of the read models (projections/projection.ts PreparedWrite
 * is one).
 */
export interface InlineWrite {
  /**
   * Sends the writes on `client` synchronously, before its first await, so the store can send
   * COMMIT behind them; resolves once they are answered, with any statements it sent after.
   */
  write(
    client: PoolClient,
  ): Promise<{ readonly inFlight: Promise<unknown>; readonly afterCommit?: () => void }>;
  /** True when write() must see an answer before it sends the rest: nothing goes behind it until then. */
  readonly awaitsAnswer: boolean;
}
export type InlineProjection = (client: PoolClient, appended: readonly BetEvent[]) => Promise<InlineWrite>;

export interface EventStore {
  append(events: readonly BetEvent[], options?: AppendOptions): Promise<AppendResult>;
  readBet(tenantId: number, betId: string): Promise<BetEvent[]>;
}

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

export function createEventStore(deps: {
  pool: Pool;
  publisher: EventPublisher;
  /** For appends with `projection: 'immediate'`; without it, such an append is refused. */
  inline?: InlineProjection;
  retry?: AppendRetry;
  /** Concurrent appends share transactions (groupCommit.ts); the limits default to the config's. */
  groupCommit?: Partial<GroupCommitOptions>;
}): EventStore {
  const { pool, publisher, inline } = deps;
  const retry = deps.retry ?? NO_RETRY;
  const stored = groupCommits<Projection>((events, projection) => store(events, projection), {
    maxTransactions: deps.groupCommit?.maxTransactions ?? DEFAULT_APPEND_MAX_TRANSACTIONS,
    maxEvents: deps.groupCommit?.maxEvents ?? DEFAULT_APPEND_GROUP_MAX_EVENTS,
    ...(deps.groupCommit?.onGroupFailed && { onGroupFailed: deps.groupCommit.onGroupFailed }),
  });
  /** `work` retried under the policy; within `deadlineMs` of its start when given. */
  async function retried<T>(step: AppendStep, work: () => Promise<T>, deadlineMs?: number): Promise<T> {
    const started = Date.now();
    let attempts = 0;
    let lastError: unknown;
    // One controller per call, told of the caller's signal by a listener removed at the end (a
    // composite AbortSignal.any per append has leaked in several Node releases).
    const stop = new AbortController();
    const forward = () => stop.abort();
    retry.signal?.addEventListener('abort', forward, { once: true });
    if (retry.signal?.aborted) stop.abort();
    const running = withRetry(
      retry.policy,
      (attempt) => {
        attempts = attempt;
        return work();
      },
      {
        signal: stop.signal,
        onRetry: (error, attempt, delayMs) => {
          lastError = error;
          retry.onRetry?.(step, error, attempt, delayMs);
        },
      },
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      if (deadlineMs === undefined) return await running;
      // Past the deadline the attempt in flight is left to finish or fail on its own (a second
      // publish of the same events changes nothing), and no further attempt starts; how it ended
      // is told to onAbandoned.
      let abandoned = false;
      running.then(
        () => abandoned && retry.onAbandoned?.(step, undefined),
        (error: unknown) => {
          // Aborted in a backoff's wait: nothing was in flight, the deadline's error says it all.
          const waiting = error instanceof Error && error.name === 'AbortError';
          if (abandoned && !waiting) retry.onAbandoned?.(step, error);
        },
      );
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned = true;
          reject(new PublishDeadlineError(deadlineMs, attempts, lastError));
          stop.abort();
        }, deadlineMs);
      });
      return await Promise.race([running, expired]);
    } catch (error) {
      if (error instanceof PublishDeadlineError) throw error;
      // A conflict keeps its own type (callers catch it by type); its retries were announced.
      if (attempts > 1 && !(error instanceof ConcurrencyConflictError))
        throw new RetriesExhaustedError(step, attempts, Date.now() - started, error);
      throw error;
    } finally {
      clearTimeout(timer);
      retry.signal?.removeEventListener('abort', forward);
    }
  }

  async function explainConflict(client: PoolClient | Pool, events: readonly BetEvent[]): Promise<never> {
    const taken = await selectPositions(
      client,
      events.map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId, version: e.version })),
    );
    const byPosition = new Map(taken.map((t) => [`${betKey(t.tenant_id, t.aggregate_id)}#${t.version}`, t]));
    for (const e of events) {
      const holder = byPosition.get(`${betKey(e.tenantId, e.aggregateId)}#${e.version}`);
      if (holder && holder.idempotency_key !== e.idempotencyKey) {
        throw new ConcurrencyConflictError(
          e.tenantId,
          e.aggregateId,
          e.version,
          `is already taken by idempotency key "${holder.idempotency_key}"`,
        );
      }
    }
    throw new ConcurrencyConflictError(
      events[0]?.tenantId ?? 0,
      events[0]?.aggregateId ?? '',
      events[0]?.version ?? 0,
      'was taken concurrently',
    );
  }

  /**
   * The insert refused the batch because an event's predecessor is not stored (the foreign key of
   * migration 010): name the first such bet and version.
   */
  async function explainMissingPredecessor(events: readonly BetEvent[]): Promise<never> {
    const needed = [...deliveredBets(events).values()]
      .filter((b) => b.firstVersion > 1)
      .map((b) => ({ tenantId: b.tenantId, betId: b.betId, version: b.firstVersion - 1 }));
    const found = await selectPositions(pool, needed);
    const have = new Set(found.map((f) => `${betKey(f.tenant_id, f.aggregate_id)}#${f.version}`));
    const missing = needed.find((p) => !have.has(`${betKey(p.tenantId, p.betId)}#${p.version}`)) ?? needed[0];
    throw new ConcurrencyConflictError(
      missing?.tenantId ?? 0,
      missing?.betId ?? '',
      (missing?.version ?? 0) + 1,
      `cannot be appended: version ${missing?.version ?? 0} is not stored`,
      { retriable: true },
    );
  }

  /**
   * The events the insert stored, matched by what it returned: the key, and the bet and version it
   * was stored under, so an event whose key the insert skipped is never taken for one it stored.
   */
  const appendedOf = (unique: readonly BetEvent[], inserted: readonly Inserted[]) => {
    const stored = (tenantId: number, key: string, betId: string, version: number) =>
      JSON.stringify([String(tenantId), key, betId, Number(version)]);
    const keys = new Set(
      inserted.map((r) => stored(r.tenant_id, r.idempotency_key, r.aggregate_id, r.version)),
    );
    return unique.filter((e) => keys.has(stored(e.tenantId, e.idempotencyKey, e.aggregateId, e.version)));
  };

  /**
   * The store checks each event's predecessor itself (a foreign key), so an append is one
   * statement: without immediate projection, BEGIN, the insert and COMMIT go out in one round trip.
   * Immediate mode takes two: BEGIN and the insert; then, once the read models have read what they
   * need (a placement needs nothing), their writes and COMMIT — the rows they lock are held for the
   * server's time alone, not for a round trip to this process and back.
   */
  async function store(unique: readonly BetEvent[], projection: Projection): Promise<BetEvent[]> {
    if (projection !== 'immediate') {
      const [inserted] = await inPipelinedTransaction<[Awaited<ReturnType<typeof insertEvents>>]>(
        pool,
        (client) => [insertEvents(client, unique)],
      );
      return appendedOf(unique, inserted);
    }
    if (!inline)
      throw new Error('an immediate append needs the event store to be given an inline projection');
    const [first, [written]] = await inTwoStepTransaction(
      pool,
      async (client: PoolClient) => {
        const appended = appendedOf(unique, await insertEvents(client, unique));
        const prepared = await inline(client, appended);
        // A write that must see its first answer is sent here, and only the rest goes with COMMIT.
        const answered = prepared.awaitsAnswer ? await prepared.write(client) : undefined;
        return { appended, prepared, answered };
      },
      (client, { prepared, answered }) => {
        const result = answered ? Promise.resolve(answered) : prepared.write(client);
        return [result.then(async (r) => (await r.inFlight, r))] as const;
      },
    );
    written.afterCommit?.();
    return first.appended;
  }

  /**
   * The new events, and the stored copy of every duplicate, in the caller's order. A duplicate may
   * be the retry of an append whose commit took effect but whose answer was lost (a killed COMMIT,
   * a dropped connection, a two-phase commit that recovery finished): that first attempt never
   * reached its publish, so the retry must publish, or the view would wait for the sweep. An event
   * published twice changes nothing (the view's version guard); the caller's copy could differ from
   * what is stored under its key, so the store's copy goes out.
   */
  async function toPublish(
    unique: readonly BetEvent[],
    appended: ReadonlySet<BetEvent>,
  ): Promise<BetEvent[]> {
    const duplicates = unique.filter((e) => !appended.has(e));
    if (duplicates.length === 0) return [...appended];
    const bets = new Map(duplicates.map((e) => [betKey(e.tenantId, e.aggregateId), e]));
    const stored = await retried('read back', () =>
      selectEventsOfBets(
        pool,
        [...bets.values()].map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId })),
      ),
    );
    const byKey = new Map(stored.map((e) => [betKey(e.tenantId, e.idempotencyKey), e]));
    return unique.flatMap((e) => {
      if (appended.has(e)) return [e];
      const copy = byKey.get(betKey(e.tenantId, e.idempotencyKey));
      return copy ? [copy] : [];
    });
  }

  async function append(
    events: readonly BetEvent[],
    options: AppendOptions,
    span: Span,
  ): Promise<AppendResult> {
    const { unique, repeated } = splitBatch(events);
    checkContiguous(unique);
    // A version taken by another event is final; a predecessor not (yet) stored is retried with
    // the transient faults: it may be in flight — another writer's, or an append of ours whose
    // two-phase commit is still being resolved on Citus.
    const appended = await retried('store', async () => {
      try {
        return await stored(unique, options.projection ?? 'async');
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === UNIQUE_VIOLATION) await explainConflict(pool, unique);
        if (code === FOREIGN_KEY_VIOLATION) await explainMissingPredecessor(unique);
        throw error;
      }
    });
    const appendedSet = new Set(appended);
    const result: AppendResult = {
      appended,
      duplicates: [...unique.filter((e) => !appendedSet.has(e)), ...repeated],
    };
    // Stored: from here on a failure leaves the events for the sweep, never the caller to re-store.
    try {
      const publishing = await toPublish(unique, appendedSet);
      await retried('publish', () => publisher.publish(publishing), retry.publishDeadlineMs);
    } catch (error) {
      throw new PublishError(result, error);
    }
    span.setAttributes({
      'bet_projector.appended': result.appended.length,
      'bet_projector.duplicates': result.duplicates.length,
    });
    return result;
  }

  return {
    /** One span per append (a child of the caller's active span, if any); its publish is a child of it. */
    append(events, options = {}) {
      return inSpan(
        'append',
        {
          attributes: {
            'bet_projector.events': events.length,
            'bet_projector.projection': options.projection ?? 'async',
          },
        },
        (span) => append(events, options, span),
      );
    },

    async readBet(tenantId, betId) {
      return selectEventsOfBets(pool, [{ tenantId, betId }]);
    },
  };
}
