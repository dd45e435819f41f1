/**
 * Group commit for appends: while `maxTransactions` append transactions are in flight, the appends
 * that arrive wait, and the next free slot takes them together into one transaction — one insert,
 * one set of view writes in immediate mode, one commit (one WAL flush) for many callers. An append
 * that finds a slot free goes at once, alone: grouping adds no wait to a process that is not busy.
 *
 * Each caller still hears of its own events only. A group never holds two appends of one bet (the
 * later waits for the next transaction, so a bet's appends keep their order), two of one
 * idempotency key, nor two modes. A group
 * transaction that fails is not the callers' answer: each of its appends is then stored alone, as
 * it would have been without grouping, so one caller's conflict or missing predecessor fails no
 * other caller and reaches its own caller with its own error.
 */
import { betKey, type BetEvent } from '../events/types.js';

export interface GroupCommitLimits {
  /** Append transactions in flight at once (APPEND_MAX_TRANSACTIONS). */
  readonly maxTransactions: number;
  /** The most events a group takes; an append larger than this goes alone (APPEND_GROUP_MAX_EVENTS). */
  readonly maxEvents: number;
}

/** Stores `events` in one transaction; resolves with those it stored (the others were duplicates). */
export type StoreEvents<M> = (events: readonly BetEvent[], mode: M) => Promise<BetEvent[]>;

interface Waiting<M> {
  readonly events: readonly BetEvent[];
  readonly mode: M;
  /** Its bets and its idempotency keys: a group holds each at most once. */
  readonly claims: ReadonlySet<string>;
  readonly resolve: (appended: BetEvent[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * What an append must hold alone within a group: its bets (so a bet's appends keep their order) and
 * its idempotency keys (the insert skips a key met twice, so both callers would be told theirs was
 * stored).
 */
const claimsOf = (events: readonly BetEvent[]) =>
  new Set(
    events.flatMap((e) => [
      `bet ${betKey(e.tenantId, e.aggregateId)}`,
      `key ${betKey(e.tenantId, e.idempotencyKey)}`,
    ]),
  );

/**
 * Which waiting appends the next transaction takes, in arrival order: the first always; then each
 * of the same mode that shares no bet or idempotency key with the group, nor with an append passed
 * over before it, while the group stays within `maxEvents`. Pure: exported for its tests.
 */
export function takeGroup<M>(waiting: readonly Waiting<M>[], maxEvents: number): Waiting<M>[] {
  const first = waiting[0];
  if (!first) return [];
  const group = [first];
  const taken = new Set(first.claims);
  const passedOver = new Set<string>();
  let events = first.events.length;
  for (const w of waiting.slice(1)) {
    const clashes = [...w.claims].some((c) => taken.has(c) || passedOver.has(c));
    if (w.mode !== first.mode || clashes || events + w.events.length > maxEvents) {
      for (const c of w.claims) passedOver.add(c);
      continue;
    }
    group.push(w);
    for (const c of w.claims) taken.add(c);
    events += w.events.length;
  }
  return group;
}

export function groupCommits<M>(store: StoreEvents<M>, limits: GroupCommitLimits): StoreEvents<M> {
  let waiting: Waiting<M>[] = [];
  let inFlight = 0;

  async function run(group: readonly Waiting<M>[]): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Waiting<M>];
      return store(only.events, only.mode).then((a) => only.resolve([...a]), only.reject);
    }
    let stored: ReadonlySet<BetEvent>;
    try {
      stored = new Set(
        await store(
          group.flatMap((w) => [...w.events]),
          group[0]!.mode,
        ),
      );
    } catch {
      // Rolled back, all of it: each append alone, so each caller gets its own answer.
      await Promise.all(group.map((w) => store(w.events, w.mode).then((a) => w.resolve([...a]), w.reject)));
      return;
    }
    for (const w of group) w.resolve(w.events.filter((e) => stored.has(e)));
  }

  function next(): void {
    while (inFlight < limits.maxTransactions && waiting.length > 0) {
      const group = takeGroup(waiting, limits.maxEvents);
      const taken = new Set(group);
      waiting = waiting.filter((w) => !taken.has(w));
      inFlight++;
      void run(group).finally(() => {
        inFlight--;
        next();
      });
    }
  }

  return (events, mode) =>
    new Promise<BetEvent[]>((resolve, reject) => {
      waiting.push({ events, mode, claims: claimsOf(events), resolve, reject });
      next();
    });
}
