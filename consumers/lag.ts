/** How far a projection's checkpoints are behind the end of each Kafka partition. */
import type { Kafka } from 'kafkajs';
import type { Queryable } from '../src/db/pool.js';
import { topicEndOffsets } from '../src/kafka/topics.js';
import { listCheckpoints } from './checkpoints.js';

export interface PartitionLag {
  readonly partition: number;
  readonly endOffset: number;
  readonly checkpoint: number;
  readonly lag: number;
  readonly lastEventTimestamp: number | null;
  readonly checkpointedAt: Date | null;
}

export async function checkpointLag(
  db: Queryable,
  kafka: Kafka,
  projection: string,
  topic: string,
): Promise<PartitionLag[]> {
  const [ends, checkpoints] = await Promise.all([
    topicEndOffsets(kafka, topic),
    listCheckpoints(db, projection),
  ]);
  const byPartition = new Map(checkpoints.filter((c) => c.topic === topic).map((c) => [c.partition, c]));
  return [...ends]
    .sort(([a], [b]) => a - b)
    .map(([partition, endOffset]) => {
      const c = byPartition.get(partition);
      const checkpoint = c?.next_offset ?? 0;
      return {
        partition,
        endOffset,
        checkpoint,
        lag: Math.max(0, endOffset - checkpoint),
        lastEventTimestamp: c?.last_event_timestamp ?? null,
        checkpointedAt: c?.updated_at ?? null,
      };
    });
}

export async function isCaughtUp(
  db: Queryable,
  kafka: Kafka,
  projection: string,
  topic: string,
): Promise<boolean> {
  return (await checkpointLag(db, kafka, projection, topic)).every((p) => p.lag === 0);
}
