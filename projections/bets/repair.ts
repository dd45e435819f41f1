/**
 * Re-folds chosen bets from bet_events into bets_view, in batches with bounded concurrency. Safe
 * while workers run: each row written is the fold of the bet's stored events and the version
 * guard keeps whichever writer is further ahead. Idempotent: a second run changes nothing.
 */
import pLimit from 'p-limit';
import { inTransaction, type Pool } from '../../src/db/pool.js';
import type { BetRef } from '../../src/events/types.js';
import type { Projection, RepairOptions, RepairResult } from '../projection.js';

/** `projection` is the composed one (projections/registry.ts), so the followers move with the rows. */
export async function repairBets(
  pool: Pool,
  projection: Projection,
  bets: readonly BetRef[],
  options: RepairOptions = {},
): Promise<RepairResult> {
  const batchSize = options.batchSize ?? 500;
  const limit = pLimit(options.concurrency ?? 2);
  const batches: BetRef[][] = [];
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
      }),
    ),
  );
  return { bets: bets.length, rowsWritten };
}
