/**
 * The bets projection: delivered events → version-guarded rows of bets_view, healing gaps from the
 * event store in the same flush (a delivery that skips a version never leaves a wrong row behind:
 * the bet is re-folded from its stored events instead). `prepare` reads and folds — committed rows
 * and immutable events, so the worker does it before its transaction; `write` sends the UPSERT.
 */
import { dialectOf } from '../../src/db/platform.js';
import type { PoolClient, Queryable } from '../../src/db/pool.js';
import { betKey, type BetEvent } from '../../src/events/types.js';
import { selectEventsOfBets } from '../../src/store/statements.js';
import { noClock, type StageClock } from '../../src/observability/stages.js';
import type { PreparedWrite, Projection, ProjectionResult, TransitionFollower } from '../projection.js';
import { deliveredBets, groupByBet, needsStoredRow, planBatch, type BetRef } from './plan.js';
import { foldBet, heldAt } from './reducer.js';
import type { RowCache } from './rowCache.js';
import { lacksLegs, type BetRow } from './row.js';
import { readBetRows, sendBetRows, writeBetRows } from './statements.js';

/**
 * Folds each bet from all its stored events; bets with no stored events are left out. A bet with
 * a stored event of a type this version does not know is folded up to it (held), and `onHeld` is
 * told of that event.
 */
export async function foldFromStore(
  client: Queryable,
  bets: readonly BetRef[],
  clock: StageClock = noClock,
  onHeld?: (at: BetEvent) => void,
): Promise<BetRow[]> {
  if (bets.length === 0) return [];
  const stored = await clock.time('read', () => selectEventsOfBets(client, bets));
  return clock.timeSync('fold', () => {
    const rows: BetRow[] = [];
    for (const events of groupByBet(stored).values()) {
      const row = foldBet(events);
      const held = onHeld && heldAt(events);
      if (held) onHeld(held);
      if (row) rows.push(row);
    }
    return rows;
  });
}

/** Counts held bets by the event type that holds them. */
function heldCounter(): { held: Record<string, number>; onHeld: (at: BetEvent) => void } {
  const held: Record<string, number> = {};
  return { held, onHeld: (at) => void (held[at.eventType] = (held[at.eventType] ?? 0) + 1) };
}

const NOTHING = { rowsWritten: 0, staleEvents: 0, refoldedBets: 0 } as const;

export interface BetsProjectionOptions {
  /**
   * A worker's cache of committed rows (VIEW_ROW_CACHE_SIZE): rows committed by earlier flushes are
   * not read back. Without one every batch reads the rows it needs; either way a delivery that
   * starts at version 1 needs no read.
   */
  readonly rowCache?: RowCache;
  /** The read models written from bets_view's accepted transitions, in the same transaction. */
  readonly followers?: readonly TransitionFollower[];
}

/** The bets projection (projections/registry.ts composes it with its followers). */
export function createBetsProjection(options: BetsProjectionOptions = {}): Projection {
  const cache = options.rowCache;
  const followers = options.followers ?? [];

  async function prepare(
    db: Queryable,
    events: readonly BetEvent[],
    clock = noClock,
  ): Promise<PreparedWrite> {
    if (events.length === 0) {
      return {
        awaitsAnswer: false,
        write: () => Promise.resolve({ ...NOTHING, inFlight: Promise.resolve() }),
      };
    }
    const known = new Map<string, BetRow>();
    const unknown: BetRef[] = [];
    for (const [key, bet] of deliveredBets(events)) {
      const cached = cache?.get(key);
      if (cached && !lacksLegs(cached)) known.set(key, cached);
      else if (needsStoredRow(bet)) unknown.push(bet);
    }
    const read = unknown.length > 0 ? await clock.time('read', () => readBetRows(db, unknown)) : undefined;
    // A row without its legs is left out: the plan re-folds its bet from the store (lacksLegs).
    for (const [key, row] of read ?? []) if (!lacksLegs(row)) known.set(key, row);
    const plan = clock.timeSync('fold', () => planBatch(events, known));
    const { held, onHeld } = heldCounter();
    const healed = await foldFromStore(db, plan.refold, clock, onHeld);
    // A bet is either applied or re-folded, never both, so the statement touches each row once.
    const rows = [...plan.rows, ...healed];
    return {
      awaitsAnswer: followers.length > 0 && !dialectOf(db).chainedWrites,
      async write(client) {
        const { written, followed } = await sendBetRows(client, rows, followers);
        // A refused row's events were already in the view (folded here from a row that was behind).
        let staleEvents = plan.staleEvents;
        for (const row of plan.rows) {
          const key = betKey(row.tenantId, row.betId);
          if (!written.has(key)) staleEvents += row.version - (known.get(key)?.version ?? 0);
        }
        return {
          rowsWritten: written.size,
          staleEvents,
          refoldedBets: plan.refold.length,
          held,
          inFlight: followed,
          ...(cache && { afterCommit: () => rememberCommitted(cache, read, rows, written) }),
        };
      },
    };
  }

  return {
    name: 'bets_view',
    prepare,

    async project(client, events): Promise<ProjectionResult> {
      const result = await (await prepare(client, events)).write(client);
      await result.inFlight;
      return result;
    },

    async refold(client: PoolClient, bets: readonly BetRef[]): Promise<number> {
      const unique = new Map(bets.map((b) => [betKey(b.tenantId, b.betId), b]));
      return (await writeBetRows(client, await foldFromStore(client, [...unique.values()]), followers)).size;
    },
  };
}

/** What the cache may hold once the flush has committed: rows read, and rows written. */
function rememberCommitted(
  cache: RowCache,
  read: ReadonlyMap<string, BetRow> | undefined,
  rows: readonly BetRow[],
  written: ReadonlySet<string>,
): void {
  for (const [key, row] of read ?? []) cache.remember(key, row);
  for (const row of rows) {
    const key = betKey(row.tenantId, row.betId);
    // Refused: the table is at or past this version, by a row we have not seen. Read it next time.
    if (written.has(key)) cache.remember(key, row);
    else cache.forget(key);
  }
}
