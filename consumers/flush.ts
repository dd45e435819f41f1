/**
 * One flush = one transaction: dead letters, the projection's rows and the per-partition
 * checkpoints commit together or not at all, sent in one round trip after the batch has been read
 * and folded. Kafka offsets are committed by the caller only after this returns, so a crash in
 * between replays events the view already has — a no-op.
 */
import {
  inPipelinedTransaction,
  inTransaction,
  inTwoStepTransaction,
  type Pool,
  type PoolClient,
} from '../src/db/pool.js';
import { classifyError, withRetry, type RetryPolicy } from '../src/errors.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { noClock, type StageClock } from '../src/observability/stages.js';
import {
  ROOT_CONTEXT,
  SpanKind,
  inSpan,
  sampledTraceId,
  type Link,
  type Span,
  type SpanOptions,
} from '../src/observability/tracing.js';
import type { Projection, ProjectionResult } from '../projections/projection.js';
import { saveCheckpoints, type CheckpointResult } from './checkpoints.js';
import { insertDeadLetters } from './deadLetters.js';
import {
  progressOf,
  type ConsumedItem,
  type DeadLetterItem,
  type EventItem,
  type PartitionProgress,
} from './messages.js';

export interface FlushResult extends Omit<ProjectionResult, 'inFlight'> {
  readonly events: number;
  readonly deadLettered: number;
  readonly progress: readonly PartitionProgress[];
  readonly checkpoints: ReadonlyMap<number, CheckpointResult>;
  /** The flush span's trace, when sampled: the latency histogram's exemplar. */
  readonly traceId?: string;
}

export type Flusher = (items: readonly ConsumedItem[]) => Promise<FlushResult>;

/**
 * When the batch statement fails on data (SQLSTATE 22/23), find the event at fault: project each
 * event under its own savepoint and dead-letter the ones that fail, so one bad event costs one
 * dead letter, not a stalled partition.
 */
async function projectOneByOne(
  client: PoolClient,
  projection: Projection,
  items: readonly EventItem[],
): Promise<{ result: Omit<ProjectionResult, 'inFlight'>; failed: DeadLetterItem[] }> {
  let rowsWritten = 0;
  let staleEvents = 0;
  let refoldedBets = 0;
  const failed: DeadLetterItem[] = [];
  const committed: Array<() => void> = [];
  for (const item of items) {
    await client.query('SAVEPOINT project_one');
    try {
      const r = await projection.project(client, [item.event]);
      rowsWritten += r.rowsWritten;
      staleEvents += r.staleEvents;
      refoldedBets += r.refoldedBets;
      await client.query('RELEASE SAVEPOINT project_one');
      if (r.afterCommit) committed.push(r.afterCommit);
    } catch (error) {
      if (classifyError(error) !== 'bad_input') throw error;
      await client.query('ROLLBACK TO SAVEPOINT project_one');
      failed.push({
        kind: 'dead',
        topic: item.topic,
        partition: item.partition,
        offset: item.offset,
        key: `${item.event.tenantId}:${item.event.aggregateId}`,
        payload: Buffer.from(JSON.stringify(item.event)),
        tenantId: item.event.tenantId,
        reason: `database rejected the event: ${(error as Error).message}`,
      });
    }
  }
  const afterCommit = () => committed.forEach((run) => run());
  return { result: { rowsWritten, staleEvents, refoldedBets, afterCommit }, failed };
}

export function createFlusher(deps: {
  pool: Pool;
  projection: Projection;
  checkpointName: string;
  retry: RetryPolicy;
  logger: Logger;
  metrics?: Metrics;
  /** Called before each retry: a worker retrying an outage is alive, not hung. */
  onRetry?: () => void;
  clock?: StageClock;
}): Flusher {
  const { pool, projection, checkpointName, retry, logger, metrics, onRetry } = deps;
  const clock = deps.clock ?? noClock;

  /**
   * The usual flush: read and fold first, then the whole transaction in one round trip — two where
   * the write must see its first answer before it sends the rest (PreparedWrite.awaitsAnswer).
   */
  async function flushBatch(items: readonly ConsumedItem[]): Promise<FlushResult> {
    const events = items.filter((i): i is EventItem => i.kind === 'event');
    const dead = items.filter((i): i is DeadLetterItem => i.kind === 'dead');
    const progress = progressOf(items);
    const prepared = await projection.prepare(
      pool,
      events.map((e) => e.event),
      clock,
    );
    const rest = (client: PoolClient) =>
      [insertDeadLetters(client, dead), saveCheckpoints(client, checkpointName, progress)] as const;
    let written: [ProjectionResult, readonly [number, Map<number, CheckpointResult>]];
    if (prepared.awaitsAnswer) {
      const [r, [, ...others]] = await inTwoStepTransaction(
        pool,
        (client) => prepared.write(client),
        (client, first) => [first.inFlight, ...rest(client)] as const,
        clock,
      );
      written = [r, others];
    } else {
      const [r, ...others] = await inPipelinedTransaction<
        [ProjectionResult, number, Map<number, CheckpointResult>]
      >(pool, (client) => [prepared.write(client), ...rest(client)], clock);
      written = [r, others];
    }
    const [result, [deadLettered, checkpoints]] = written;
    result.afterCommit?.();
    return { ...result, events: events.length, deadLettered, progress, checkpoints };
  }

  /** After the database refused a batch on its data: event by event, dead-lettering the refused. */
  async function flushOneByOne(items: readonly ConsumedItem[]): Promise<FlushResult> {
    const events = items.filter((i): i is EventItem => i.kind === 'event');
    const progress = progressOf(items);
    const flushed = await clock.time('transaction', () =>
      inTransaction(pool, async (client) => {
        const { result, failed } = await projectOneByOne(client, projection, events);
        const dead = [...items.filter((i): i is DeadLetterItem => i.kind === 'dead'), ...failed];
        const deadLettered = await insertDeadLetters(client, dead);
        const checkpoints = await saveCheckpoints(client, checkpointName, progress);
        return { ...result, events: events.length, deadLettered, progress, checkpoints };
      }),
    );
    flushed.afterCommit?.();
    return flushed;
  }

  async function flush(items: readonly ConsumedItem[], span: Span): Promise<FlushResult> {
    let oneByOne = false;
    const flushed = await withRetry(
      retry,
      async () => {
        try {
          return await (oneByOne ? flushOneByOne(items) : flushBatch(items));
        } catch (error) {
          if (!oneByOne && classifyError(error) === 'bad_input') {
            logger.warn({ err: error }, 'batch rejected by the database; projecting event by event');
            oneByOne = true;
            return flushOneByOne(items);
          }
          throw error;
        }
      },
      {
        onRetry: (error, attemptNo, delayMs) => {
          onRetry?.();
          metrics?.retries.inc({ operation: 'flush' });
          metrics?.errors.inc({ kind: 'db' });
          span.addEvent('retry', { attempt: attemptNo, delay_ms: delayMs, reason: (error as Error).message });
          logger.warn({ err: error, attempt: attemptNo, delayMs }, 'flush failed; retrying');
        },
      },
    );
    span.setAttributes({
      'bet_projector.rows_written': flushed.rowsWritten,
      'bet_projector.stale_events': flushed.staleEvents,
      'bet_projector.dead_lettered': flushed.deadLettered,
    });
    const traceId = sampledTraceId(span);
    return traceId ? { ...flushed, traceId } : flushed;
  }

  // A root span of its own per flush (events of many traces go into it), linked to the send span
  // of each sampled event; its statements are its children.
  return (items) =>
    inSpan(
      `flush ${projection.name}`,
      () => flushSpanOptions(items),
      (span) => flush(items, span),
    );
}

/** The most links one flush span carries; a flush of thousands of sampled events keeps the first. */
const MAX_LINKS = 128;

function flushSpanOptions(items: readonly ConsumedItem[]): SpanOptions {
  const links: Link[] = [];
  const linked = new Set<string>();
  for (const item of items) {
    if (links.length >= MAX_LINKS) break;
    if (item.kind !== 'event' || !item.producer || linked.has(item.producer.spanId)) continue;
    linked.add(item.producer.spanId);
    links.push({ context: item.producer });
  }
  const partitions = [...new Set(items.map((i) => i.partition))];
  const offsets = items.map((i) => i.offset);
  return {
    kind: SpanKind.CONSUMER,
    parent: ROOT_CONTEXT,
    activeOnlyWhenSampled: true,
    links,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': items[0]?.topic ?? '',
      'messaging.batch.message_count': items.length,
      ...(partitions.length === 1 && { 'messaging.destination.partition.id': String(partitions[0]) }),
      'bet_projector.partitions': partitions,
      'bet_projector.offset.first': Math.min(...offsets),
      'bet_projector.offset.last': Math.max(...offsets),
      'bet_projector.events': items.filter((i) => i.kind === 'event').length,
    },
  };
}
