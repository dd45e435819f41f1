/**
 * Replays dead letters after a fix or an upgrade: each is decoded and validated again. A valid one
 * whose event is in bet_events gets its bet re-folded from the store (the source of truth, so the
 * view never holds an event the store does not) and is marked replayed; one that is still invalid,
 * or not in the store, keeps its place with the new reason. Dead letters are never deleted.
 */
import { inTransaction, type Pool } from '../src/db/pool.js';
import { ValidationError, decodeEvent } from '../src/events/validate.js';
import type { Projection } from '../projections/projection.js';
import { selectPositions } from '../src/store/statements.js';
import { listDeadLetters } from './deadLetters.js';

export interface ReplayReport {
  readonly replayed: number;
  readonly stillInvalid: number;
  readonly notStored: number;
}

/**
 * Two statements rather than one with `CASE WHEN … THEN now()`: Citus refuses non-immutable
 * functions inside CASE in an UPDATE of a distributed or reference table.
 */
const MARK_REPLAYED = `
UPDATE dead_letters SET replayed_at = now(), replay_result = $4
WHERE topic = $1 AND partition = $2 AND kafka_offset = $3`;

const MARK_KEPT = `
UPDATE dead_letters SET replay_result = $4
WHERE topic = $1 AND partition = $2 AND kafka_offset = $3`;

export async function replayDeadLetters(
  pool: Pool,
  projection: Projection,
  limit = 1_000,
): Promise<ReplayReport> {
  let replayed = 0;
  let stillInvalid = 0;
  let notStored = 0;
  for (const letter of await listDeadLetters(pool, { limit })) {
    const position = [letter.topic, letter.partition, letter.kafka_offset];
    try {
      const event = decodeEvent(letter.payload);
      const stored = await selectPositions(pool, [
        { tenantId: event.tenantId, betId: event.aggregateId, version: event.version },
      ]);
      if (stored[0]?.idempotency_key !== event.idempotencyKey) {
        await pool.query(MARK_KEPT, [...position, 'valid, but not in bet_events: left for review']);
        notStored++;
        continue;
      }
      await inTransaction(pool, async (client) => {
        const written = await projection.refold(client, [
          { tenantId: event.tenantId, betId: event.aggregateId },
        ]);
        await client.query(MARK_REPLAYED, [...position, written > 0 ? 'projected' : 'already in the view']);
      });
      replayed++;
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      await pool.query(MARK_KEPT, [...position, `still invalid: ${error.message}`]);
      stillInvalid++;
    }
  }
  return { replayed, stillInvalid, notStored };
}
