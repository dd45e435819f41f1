/**
 * The bets projection: delivered events → version-guarded rows of bets_view, healing gaps from the
 * event store inside the caller's transaction (DESIGN invariant 5).
 */
import type { PoolClient } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import { selectEventsOfBets } from '../../src/store/statements.js';
import { noClock, type StageClock } from '../../src/observability/stages.js';
import type { Projection, ProjectionResult } from '../projection.js';
import { betsOf, groupByBet, planBatch, type BetRef } from './plan.js';
import { foldBet } from './reducer.js';
import type { BetRow } from './row.js';
import { readBetRows, upsertBetRows } from './statements.js';

/** Folds each bet from all its stored events; bets with no stored events are left out. */
export async function foldFromStore(
  client: PoolClient,
  bets: readonly BetRef[],
  clock: StageClock = noClock,
): Promise<BetRow[]> {
  if (bets.length === 0) return [];
  const stored = await clock.time('read', () => selectEventsOfBets(client, bets));
  return clock.timeSync('fold', () => {
    const rows: BetRow[] = [];
    for (const events of groupByBet(stored).values()) {
      const row = foldBet(events);
      if (row) rows.push(row);
    }
    return rows;
  });
}

export const betsProjection: Projection = {
  name: 'bets_view',

  async project(client, events, clock = noClock): Promise<ProjectionResult> {
    if (events.length === 0) return { rowsWritten: 0, staleEvents: 0, refoldedBets: 0 };
    const stored = await clock.time('read', () => readBetRows(client, betsOf(events)));
    const plan = clock.timeSync('fold', () => planBatch(events, stored));
    const healed = await foldFromStore(client, plan.refold, clock);
    // A bet is either applied or re-folded, never both, so the statement touches each row once.
    const rowsWritten = await clock.time('write', () => upsertBetRows(client, [...plan.rows, ...healed]));
    return { rowsWritten, staleEvents: plan.staleEvents, refoldedBets: plan.refold.length };
  },

  async refold(client: PoolClient, bets: readonly BetRef[]): Promise<number> {
    const unique = new Map(bets.map((b) => [betKey(b.tenantId, b.betId), b]));
    return upsertBetRows(client, await foldFromStore(client, [...unique.values()]));
  },
};
