/**
 * Re-folds chosen bets from bet_events into bets_view, in batches with bounded concurrency. Safe
 * while workers run: each row written is the fold of the bet's stored events and the version
 * guard keeps whichever writer is further ahead. Idempotent: a second run changes nothing.
 */
import pLimit from 'p-limit';
import { inTransaction, type Pool } from '../../src/db/pool.js';
import type { BetRef } from '../../src/events/types.js';
import type { DifferingBet, Projection, RepairOptions, RepairResult } from '../projection.js';
import { foldFromStore } from './index.js';
import type { Throttle } from '../throttle.js';
import { rewriteBetRows } from './statements.js';

/** `projection` is the composed one (projections/registry.ts), so the followers move with the rows. */
export async function repairBets(
  pool: Pool,
  projection: Projection,
  bets: ReadonlyArray<BetRef & { readonly latestVersion?: number }>,
  options: RepairOptions = {},
): Promise<RepairResult> {
  const batchSize = options.batchSize ?? 500;
  const limit = pLimit(options.concurrency ?? 2);
  const batches: Array<Array<BetRef & { readonly latestVersion?: number }>> = [];
  for (let i = 0; i < bets.length; i += batchSize) batches.push(bets.slice(i, i + batchSize));
  let done = 0;
  let rowsWritten = 0;
  await Promise.all(
    batches.map((batch) =>
      limit(async () => {
        const written = await inTransaction(pool, (client) => projection.refold(client, batch));
        rowsWritten += written;
        done += batch.length;
        options.onProgress?.(done, bets.length);
        // A bet's versions run from 1: its re-fold reads latestVersion events.
        await options.throttle?.take(batch.reduce((n, b) => n + (b.latestVersion ?? 1), 0));
      }),
    ),
  );
  return { bets: bets.length, rowsWritten };
}

/** Bets folded and rewritten per transaction. */
const HEAL_BATCH = 500;

/**
 * Heals what `projector verify` found: each bet with events is folded from them and written over
 * its row, at the row's own version too. A row without events, or ahead of every stored event, is
 * left to `projector rebuild` (the schema owner's): the worker's role may not delete rows, and no
 * write goes backwards while workers run. The followers are not moved here: the caller sets them
 * from bets_view afterwards. Returns the rows rewritten.
 */
export async function healDiffering(
  pool: Pool,
  differing: readonly DifferingBet[],
  throttle?: Throttle,
): Promise<number> {
  const withEvents = differing.filter((d) => d.foldVersion !== null);
  let rewritten = 0;
  for (let i = 0; i < withEvents.length; i += HEAL_BATCH) {
    const bets = withEvents.slice(i, i + HEAL_BATCH).map((d) => ({ tenantId: d.tenantId, betId: d.betId }));
    rewritten += await inTransaction(pool, async (client) =>
      rewriteBetRows(client, await foldFromStore(client, bets)),
    );
    await throttle?.take(withEvents.slice(i, i + HEAL_BATCH).reduce((n, d) => n + (d.foldVersion ?? 1), 0));
  }
  return rewritten;
}
