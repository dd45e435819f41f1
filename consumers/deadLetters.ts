/** Dead letters: every message that could not be projected, kept whole with where and why. */
import type { Queryable } from '../src/db/pool.js';
import type { DeadLetterItem } from './messages.js';

/** A redelivered bad message keeps its first record (same topic/partition/offset). */
const INSERT_DEAD_LETTERS = `
INSERT INTO dead_letters (topic, partition, kafka_offset, message_key, payload, tenant_id, reason)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[], $5::bytea[], $6::bigint[], $7::text[])
ON CONFLICT (topic, partition, kafka_offset) DO NOTHING`;

export async function insertDeadLetters(db: Queryable, items: readonly DeadLetterItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const result = await db.query({
    name: 'dead_letters_insert',
    text: INSERT_DEAD_LETTERS,
    values: [
      items.map((i) => i.topic),
      items.map((i) => i.partition),
      items.map((i) => i.offset),
      items.map((i) => i.key),
      items.map((i) => i.payload),
      items.map((i) => i.tenantId),
      items.map((i) => i.reason),
    ],
  });
  return result.rowCount ?? 0;
}

export interface DeadLetterRow {
  topic: string;
  partition: number;
  kafka_offset: number;
  message_key: string | null;
  payload: Buffer | null;
  tenant_id: number | null;
  reason: string;
  first_seen_at: Date;
  replayed_at: Date | null;
  replay_result: string | null;
}

export async function listDeadLetters(
  db: Queryable,
  options: { limit?: number; includeReplayed?: boolean } = {},
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT topic, partition, kafka_offset, message_key, payload, tenant_id, reason, first_seen_at,
            replayed_at, replay_result
     FROM dead_letters
     WHERE $1 OR replayed_at IS NULL
     ORDER BY first_seen_at, topic, partition, kafka_offset
     LIMIT $2`,
    [options.includeReplayed ?? false, options.limit ?? 100],
  );
  return rows;
}
