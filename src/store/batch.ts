/**
 * Pure checks of an append batch before it reaches the database: one event per idempotency key,
 * versions of a bet unique and contiguous within the batch.
 */
import { betKey, type BetEvent } from '../events/types.js';

export class ConcurrencyConflictError extends Error {
  override readonly name = 'ConcurrencyConflictError';
  /**
   * True when waiting may resolve it: a missing predecessor can be in flight from another producer,
   * or, on Citus, committed but not yet visible on its node until two-phase-commit recovery
   * finishes the commit there. A version taken by another event never resolves.
   */
  readonly retriable: boolean;
  constructor(
    readonly tenantId: number,
    readonly betId: string,
    readonly version: number,
    detail: string,
    options: { retriable?: boolean } = {},
  ) {
    super(`conflict: bet ${betId} of tenant ${tenantId} version ${version} ${detail}`);
    this.retriable = options.retriable ?? false;
  }
}

export interface SplitBatch {
  /** The first event of each idempotency key, in input order. */
  readonly unique: BetEvent[];
  /** Later events repeating a key already in the batch. */
  readonly repeated: BetEvent[];
}

export function splitBatch(events: readonly BetEvent[]): SplitBatch {
  const keys = new Set<string>();
  const positions = new Map<string, string>();
  const unique: BetEvent[] = [];
  const repeated: BetEvent[] = [];
  for (const event of events) {
    const key = betKey(event.tenantId, event.idempotencyKey);
    if (keys.has(key)) {
      repeated.push(event);
      continue;
    }
    keys.add(key);
    const position = `${betKey(event.tenantId, event.aggregateId)}#${event.version}`;
    const holder = positions.get(position);
    if (holder !== undefined) {
      throw new ConcurrencyConflictError(
        event.tenantId,
        event.aggregateId,
        event.version,
        `appears twice in the batch (idempotency keys "${holder}" and "${event.idempotencyKey}")`,
      );
    }
    positions.set(position, event.idempotencyKey);
    unique.push(event);
  }
  return { unique, repeated };
}

/** A bet's versions within one batch must be contiguous, or the store would hold a hole. */
export function checkContiguous(events: readonly BetEvent[]): void {
  const byBet = new Map<string, number[]>();
  for (const e of events) {
    const key = betKey(e.tenantId, e.aggregateId);
    const versions = byBet.get(key) ?? [];
    versions.push(e.version);
    byBet.set(key, versions);
  }
  for (const [key, versions] of byBet) {
    versions.sort((a, b) => a - b);
    for (let i = 1; i < versions.length; i++) {
      const previous = versions[i - 1] as number;
      const version = versions[i] as number;
      if (version !== previous + 1) {
        const event = events.find((e) => betKey(e.tenantId, e.aggregateId) === key) as BetEvent;
        throw new ConcurrencyConflictError(
          event.tenantId,
          event.aggregateId,
          previous + 1,
          `is missing from the batch (it has versions ${previous} and ${version})`,
        );
      }
    }
  }
}
