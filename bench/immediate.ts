/**
 * Immediate mode as an API server uses it: one process, N callers each appending single events with
 * `projection: 'immediate'`, publishing to Kafka or not; and what the database itself allows for
 * that transaction's shape at the same parallelism (the ceiling, as pgbench would measure it).
 */
import { loadConfig } from '../src/config.js';
import { detectDialect } from '../src/db/platform.js';
import { createPool, type Pool } from '../src/db/pool.js';
import type { BetEvent } from '../src/events/types.js';
import { createKafkaPublisher, noPublisher } from '../src/kafka/publisher.js';
import { ensureTopic } from '../src/kafka/topics.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { createEventStore } from '../src/store/eventStore.js';
import type { GroupCommitLimits } from '../src/store/groupCommit.js';
import { eventRowValues } from '../src/store/statements.js';
import { inlineProjection } from '../projections/registry.js';
import { keyHash, PROJECTED_TABLES, type BenchContext } from './parts.js';
import { figure, quantile, round1, type Figure } from './stats.js';

/** Connections of the caller's pool: an API server's DB_POOL_MAX, and pgbench's client count. */
export const IMMEDIATE_POOL = 16;
const TENANTS = 20;

export interface ImmediateFigures {
  readonly callers: number;
  readonly publish: boolean;
  readonly eventsPerSecond: Figure;
  readonly p50Ms: Figure;
  readonly p99Ms: Figure;
}

function stream(ctx: BenchContext, count: number, seed: number): BetEvent[] {
  return [
    ...simulateEvents({
      seed,
      events: count,
      tenants: TENANTS,
      openBets: 2_000,
      v2Share: ctx.v2Share,
      now: Date.now,
    }),
  ];
}

/** A bet's events in one caller, in order: its versions arrive one after another, as in a service. */
function lanesOf(events: readonly BetEvent[], callers: number): BetEvent[][] {
  const lanes: BetEvent[][] = Array.from({ length: callers }, () => []);
  for (const e of events) lanes[Math.abs(keyHash(`${e.tenantId}:${e.aggregateId}`)) % callers]!.push(e);
  return lanes;
}

/** The pool, and the append grouping as configured (APPEND_MAX_TRANSACTIONS, APPEND_GROUP_MAX_EVENTS). */
async function withCallersPool<T>(
  ctx: BenchContext,
  work: (pool: Pool, groupCommit: GroupCommitLimits) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ ...process.env, DATABASE_URL: ctx.databaseUrl });
  const pool = createPool({ ...config, dbPoolMax: IMMEDIATE_POOL }, 'bet-projector:bench-immediate');
  try {
    await detectDialect(pool);
    return await work(pool, {
      maxTransactions: config.appendMaxTransactions,
      maxEvents: config.appendGroupMaxEvents,
    });
  } finally {
    await pool.end();
  }
}

/** `callers` concurrent callers append `count` events one by one in immediate mode. */
export async function benchImmediateCallers(
  ctx: BenchContext,
  count: number,
  callers: number,
  publish: boolean,
): Promise<ImmediateFigures> {
  const topic = `bench-immediate-${Date.now()}`;
  if (publish) await ensureTopic(ctx.kafka, topic, 6);
  const publisher = publish ? createKafkaPublisher(ctx.kafka, topic) : noPublisher;
  const rates: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  try {
    await withCallersPool(ctx, async (pool, groupCommit) => {
      const store = createEventStore({ pool, publisher, inline: inlineProjection, groupCommit });
      // Connections opened and the producer connected before the clock starts.
      await store.append(stream(ctx, 1, 990), { projection: 'immediate' });
      for (let run = 0; run < ctx.runs; run++) {
        await pool.query(`TRUNCATE bet_events, ${PROJECTED_TABLES}`);
        const lanes = lanesOf(stream(ctx, count, 900 + run), callers);
        const latencies: number[] = [];
        const started = performance.now();
        await Promise.all(
          lanes.map(async (lane) => {
            for (const e of lane) {
              const t = performance.now();
              await store.append([e], { projection: 'immediate' });
              latencies.push(performance.now() - t);
            }
          }),
        );
        rates.push(Math.round((count / (performance.now() - started)) * 1000));
        latencies.sort((a, b) => a - b);
        p50.push(round1(quantile(latencies, 0.5)));
        p99.push(round1(quantile(latencies, 0.99)));
      }
    });
  } finally {
    await publisher.close();
  }
  const result = {
    callers,
    publish,
    eventsPerSecond: figure(rates),
    p50Ms: figure(p50),
    p99Ms: figure(p99),
  };
  ctx.log(
    `immediate, ${callers} callers, ${publish ? 'publishing' : 'not publishing'}: ${result.eventsPerSecond.median} events/s, ` +
      `p50 ${round1(result.p50Ms.median)} ms, p99 ${round1(result.p99Ms.median)} ms`,
  );
  return result;
}

/**
 * The ceiling: `clients` connections each running immediate mode's transaction as pgbench runs a
 * script — BEGIN, the event's INSERT, the view row's UPSERT, the tenant's day row UPSERT, COMMIT,
 * each statement awaited — with plain statements of its own, not the product's code.
 */
export async function benchImmediateCeiling(
  ctx: BenchContext,
  count: number,
  clients: number,
): Promise<Figure> {
  const rates: number[] = [];
  await withCallersPool(ctx, async (pool) => {
    for (let run = 0; run < ctx.runs; run++) {
      await pool.query(`TRUNCATE bet_events, ${PROJECTED_TABLES}`);
      // Placements only: each transaction writes a new bet, so no row is read first.
      const placements = stream(ctx, count * 3, 950 + run)
        .filter((e) => e.version === 1)
        .slice(0, count);
      const lanes = lanesOf(placements, clients);
      const started = performance.now();
      await Promise.all(
        lanes.map(async (lane) => {
          const client = await pool.connect();
          try {
            for (const e of lane) {
              await client.query('BEGIN');
              await client.query(
                `INSERT INTO bet_events (tenant_id, aggregate_id, version, idempotency_key, event_type, event_data,
                                         "timestamp", previous_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
                eventRowValues(e),
              );
              await client.query(
                `INSERT INTO bets_view (tenant_id, bet_id, status, version, last_event_type, last_updated_timestamp)
                 VALUES ($1, $2, 'placed', $3, $4, $5)
                 ON CONFLICT (tenant_id, bet_id) DO UPDATE SET version = EXCLUDED.version
                 WHERE bets_view.version < EXCLUDED.version`,
                [e.tenantId, e.aggregateId, e.version, e.eventType, e.timestamp],
              );
              await client.query(
                `INSERT INTO tenant_daily_revenue (tenant_id, currency, day, turnover, ggr)
                 VALUES ($1, 'EUR', CURRENT_DATE, 1, 0)
                 ON CONFLICT (tenant_id, currency, day) DO UPDATE
                 SET turnover = tenant_daily_revenue.turnover + EXCLUDED.turnover`,
                [e.tenantId],
              );
              await client.query('COMMIT');
            }
          } finally {
            client.release();
          }
        }),
      );
      rates.push(Math.round((placements.length / (performance.now() - started)) * 1000));
    }
  });
  const result = figure(rates);
  ctx.log(
    `immediate's ceiling (its transaction's shape, ${clients} clients): ${result.median} transactions/s`,
  );
  return result;
}
