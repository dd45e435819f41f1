/**
 * Group commit for appends: while `maxTransactions` append transactions are in flight, the appends
 * that arrive wait, and the next free slot takes them together into one transaction — one insert,
 * one set of view writes in immediate mode, one commit (one WAL flush) for many callers. An append
 * that finds a slot free goes at once, alone: grouping adds no wait to a process that is not busy.
 *
 * Each caller still hears of its own events only. A group never holds two appends of one bet (of
 * two waiting together, the later goes in a later transaction), two of one idempotency key, nor two
 * modes. A group transaction that fails is not the callers' answer: each of its appends is then
 * stored alone, as it would have been without grouping, so one caller's conflict or missing
 * predecessor fails no other caller and reaches its own caller with its own error.
 *
 * A shared transaction's statements are traced under an `append group` span, a child of the first
 * caller's span and linked to the others'; an append alone runs in its caller's own context.
 */
import pLimit from 'p-limit';
import { betKey, type BetEvent } from '../events/types.js';
import { context, inSpan, trace, type Context, type Link } from '../observability/tracing.js';

export interface GroupCommitLimits {
  /** Append transactions in flight at once (APPEND_MAX_TRANSACTIONS). */
  readonly maxTransactions: number;
  /** The most events a group takes; an append larger than this goes alone (APPEND_GROUP_MAX_EVENTS). */
  readonly maxEvents: number;
}

export interface GroupCommitOptions extends GroupCommitLimits {
  /** Told when a shared transaction failed, before its appends are stored one by one. */
  readonly onGroupFailed?: (error: unknown, appends: number) => void;
}

/** Stores `events` in one transaction; resolves with those it stored (the others were duplicates). */
export type StoreEvents<M> = (events: readonly BetEvent[], mode: M) => Promise<BetEvent[]>;

interface Waiting<M> {
  readonly events: readonly BetEvent[];
  readonly mode: M;
  /** Its bets and its idempotency keys: a group holds each at most once. */
  readonly claims: ReadonlySet<string>;
  /** The caller's context (its append span): its statements are traced there. */
  readonly context: Context;
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

export function groupCommits<M>(store: StoreEvents<M>, options: GroupCommitOptions): StoreEvents<M> {
  let waiting: Waiting<M>[] = [];
  let inFlight = 0;

  /** One append in its own transaction, in its caller's context; settles its caller. */
  const alone = (w: Waiting<M>) =>
    context.with(w.context, () => store(w.events, w.mode)).then((a) => w.resolve([...a]), w.reject);

  async function together(group: readonly Waiting<M>[]): Promise<void> {
    const [first, ...others] = group as [Waiting<M>, ...Waiting<M>[]];
    const links: Link[] = others.flatMap((w) => {
      const spanContext = trace.getSpanContext(w.context);
      return spanContext ? [{ context: spanContext }] : [];
    });
    const events = group.flatMap((w) => [...w.events]);
    let stored: ReadonlySet<BetEvent>;
    try {
      stored = new Set(
        await inSpan(
          'append group',
          {
            parent: first.context,
            links,
            attributes: { 'bet_projector.appends': group.length, 'bet_projector.events': events.length },
          },
          () => store(events, first.mode),
        ),
      );
    } catch (error) {
      // Rolled back, all of it: each append alone, so each caller gets its own answer; no more at
      // once than the transactions allowed, so a large group's fallback does not drain the pool.
      try {
        options.onGroupFailed?.(error, group.length);
      } catch {
        // A hook that fails must not leave the callers waiting.
      }
      const limit = pLimit(options.maxTransactions);
      await Promise.all(group.map((w) => limit(() => alone(w))));
      return;
    }
    for (const w of group) w.resolve(w.events.filter((e) => stored.has(e)));
  }

  function next(): void {
    while (inFlight < options.maxTransactions && waiting.length > 0) {
      const group = takeGroup(waiting, options.maxEvents);
      const taken = new Set(group);
      waiting = waiting.filter((w) => !taken.has(w));
      inFlight++;
      void (group.length === 1 ? alone(group[0]!) : together(group)).finally(() => {
        inFlight--;
        next();
      });
    }
  }

  return (events, mode) =>
    new Promise<BetEvent[]>((resolve, reject) => {
      waiting.push({ events, mode, claims: claimsOf(events), context: context.active(), resolve, reject });
      next();
    });
}
