/** Per-partition checkpoints of a projection, written in the flush transaction. */
import type { Queryable } from '../src/db/pool.js';
import type { PartitionProgress } from './messages.js';

/**
 * Only moves forward: after a rebalance two workers may briefly hold the same partition, and the
 * slower one must not pull the checkpoint back.
 */
const SAVE_CHECKPOINTS = `
INSERT INTO projection_checkpoints AS c (projection, topic, partition, next_offset, last_event_timestamp, updated_at)
SELECT $1, u.topic, u.partition, u.next_offset, u.last_event_timestamp, now()
FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[]) AS u(topic, partition, next_offset, last_event_timestamp)
ON CONFLICT (projection, topic, partition) DO UPDATE SET
  next_offset = EXCLUDED.next_offset,
  last_event_timestamp = GREATEST(c.last_event_timestamp, EXCLUDED.last_event_timestamp),
  updated_at = EXCLUDED.updated_at
WHERE c.next_offset < EXCLUDED.next_offset
RETURNING topic, partition`;

export type CheckpointResult = 'stored' | 'current_ahead';

export async function saveCheckpoints(
  db: Queryable,
  projection: string,
  progress: readonly PartitionProgress[],
): Promise<Map<number, CheckpointResult>> {
  const results = new Map<number, CheckpointResult>(progress.map((p) => [p.partition, 'current_ahead']));
  if (progress.length === 0) return results;
  const { rows } = await db.query<{ topic: string; partition: number }>({
    name: 'checkpoints_save',
    text: SAVE_CHECKPOINTS,
    values: [
      projection,
      progress.map((p) => p.topic),
      progress.map((p) => p.partition),
      progress.map((p) => p.nextOffset),
      progress.map((p) => p.lastEventTimestamp),
    ],
  });
  for (const r of rows) results.set(r.partition, 'stored');
  return results;
}

const LOAD_CHECKPOINT = `
SELECT next_offset FROM projection_checkpoints WHERE projection = $1 AND topic = $2 AND partition = $3`;

/** The next offset to apply for a partition, or undefined when it has never been checkpointed. */
export async function loadCheckpoint(
  db: Queryable,
  projection: string,
  topic: string,
  partition: number,
): Promise<number | undefined> {
  const { rows } = await db.query<{ next_offset: number }>({
    name: 'checkpoints_load',
    text: LOAD_CHECKPOINT,
    values: [projection, topic, partition],
  });
  return rows[0]?.next_offset;
}

export interface CheckpointRow {
  projection: string;
  topic: string;
  partition: number;
  next_offset: number;
  last_event_timestamp: number | null;
  updated_at: Date;
}

export async function listCheckpoints(db: Queryable, projection: string): Promise<CheckpointRow[]> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT projection, topic, partition, next_offset, last_event_timestamp, updated_at
     FROM projection_checkpoints WHERE projection = $1 ORDER BY topic, partition`,
    [projection],
  );
  return rows;
}
