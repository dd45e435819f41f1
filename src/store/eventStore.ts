/**
 * The event store: append a batch in one statement and one transaction, then publish what was new.
 * Immediate mode writes the view rows in that same transaction, for callers that must read their
 * own writes.
 */
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { betKey, type BetEvent } from '../events/types.js';
import type { EventPublisher } from '../kafka/publisher.js';
import type { Projection } from '../../projections/projection.js';
import { ConcurrencyConflictError, checkContiguous, firstVersions, splitBatch } from './batch.js';
import { insertEvents, selectEventsOfBets, selectPositions } from './statements.js';

export { ConcurrencyConflictError } from './batch.js';

export interface AppendOptions {
  /** 'immediate': also write the view rows in the append transaction. Default 'async' (the worker). */
  readonly projection?: 'async' | 'immediate';
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

export interface EventStore {
  append(events: readonly BetEvent[], options?: AppendOptions): Promise<AppendResult>;
  readBet(tenantId: number, betId: string): Promise<BetEvent[]>;
}

const UNIQUE_VIOLATION = '23505';

export function createEventStore(deps: {
  pool: Pool;
  publisher: EventPublisher;
  projection: Projection;
}): EventStore {
  const { pool, publisher, projection } = deps;

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

  async function appendInTransaction(client: PoolClient, unique: BetEvent[], options: AppendOptions) {
    const inserted = await insertEvents(client, unique);
    const insertedKeys = new Set(inserted.map((r) => betKey(r.tenant_id, r.idempotency_key)));
    const appended = unique.filter((e) => insertedKeys.has(betKey(e.tenantId, e.idempotencyKey)));
    const needPredecessor = firstVersions(appended)
      .filter((p) => p.version > 1)
      .map((p) => ({ ...p, version: p.version - 1 }));
    const found = await selectPositions(client, needPredecessor);
    if (found.length < needPredecessor.length) {
      const have = new Set(found.map((f) => `${betKey(f.tenant_id, f.aggregate_id)}#${f.version}`));
      const missing = needPredecessor.find((p) => !have.has(`${betKey(p.tenantId, p.betId)}#${p.version}`));
      if (missing) {
        throw new ConcurrencyConflictError(
          missing.tenantId,
          missing.betId,
          missing.version + 1,
          `cannot be appended: version ${missing.version} is not stored`,
        );
      }
    }
    if (options.projection === 'immediate') await projection.project(client, appended);
    return appended;
  }

  return {
    async append(events, options = {}) {
      const { unique, repeated } = splitBatch(events);
      checkContiguous(unique);
      let appended: BetEvent[];
      try {
        appended = await inTransaction(pool, (client) => appendInTransaction(client, unique, options));
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) await explainConflict(pool, unique);
        throw error;
      }
      const appendedSet = new Set(appended);
      const result: AppendResult = {
        appended,
        duplicates: [...unique.filter((e) => !appendedSet.has(e)), ...repeated],
      };
      try {
        await publisher.publish(appended);
      } catch (error) {
        throw new PublishError(result, error);
      }
      return result;
    },

    async readBet(tenantId, betId) {
      return selectEventsOfBets(pool, [{ tenantId, betId }]);
    },
  };
}
