/**
 * bets_view rebuilt from bet_events without downtime (projections/shadowRebuild.ts does the phases):
 * this module gives it the fill — every bet folded, set-based in the database or streamed through
 * the reducer — and the catch-up, re-folding from the store the bets whose live row is ahead.
 */
import type { Pool, PoolClient } from '../../src/db/pool.js';
import { inTransaction } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import type { Chunk } from '../chunks.js';
import {
  rebuildByShadow,
  shadowOf,
  type Difference,
  type RebuildProgress,
  type ShadowFill,
  type ShadowRebuildReport,
} from '../shadowRebuild.js';
import { foldFromStore } from './index.js';
import { PREVIOUS_COLUMNS, WRITTEN_AT } from './columns.js';
import { insertBetRows, upsertBetRows, VIEW_TABLE } from './statements.js';
import { fillByCopy } from './copyFill.js';
import { FILL_PLANNER_SETTINGS, fillSql, heldBetsSql } from './fillStatement.js';

export type { Difference, RebuildProgress };

export const SHADOW_TABLE = shadowOf(VIEW_TABLE);
/**
 * Memory for the fill's hash aggregation (twice this, by PostgreSQL's hash_mem_multiplier):
 * spilling to disk would dominate. A chunk larger than this spills and stays correct (or take
 * more --chunks).
 */
const FILL_WORK_MEM = '128MB';

/** Two chunks, one per connection of the default concurrency: each chunk reads the whole table once. */
export const DEFAULT_REBUILD_CHUNKS = 2;

export type FillStrategy = 'set' | 'copy';

export interface RebuildOptions {
  /**
   * 'set' (default): INSERT … SELECT of every bet folded inside the database (fillStatement.ts),
   * so no event leaves the server, and on Citus the grouped INSERT … SELECT between colocated
   * tables runs on every shard in parallel. 'copy' streams every event to Node, folds it with the
   * reducer and COPYs rows back: slower (docs/benchmarks.md), kept as the fold's second opinion.
   */
  readonly strategy?: FillStrategy;
  /**
   * Hash chunks filled independently, two at a time by default: each reads the whole table once,
   * so more chunks than connections read it more often for nothing.
   */
  readonly chunks?: number;
  readonly concurrency?: number;
  readonly dryRun?: boolean;
  readonly lockTimeoutMs?: number;
  /** Told as each phase starts and moves; awaited (shadowRebuild.ts). */
  readonly onProgress?: (progress: RebuildProgress) => void | Promise<void>;
}

/** The phases' report (shadowRebuild.ts), with the events read and the bets written named as such. */
export interface RebuildReport extends Omit<ShadowRebuildReport, 'rows' | 'caughtUp'> {
  readonly strategy: FillStrategy;
  readonly events: number;
  readonly bets: number;
  readonly caughtUpBets: number;
}

/** The set-based fill of one chunk of the shadow table (exported for the tests' EXPLAIN on Citus). */
export function shadowFillSql(chunk: Chunk): { text: string; values: unknown[] } {
  return fillSql(SHADOW_TABLE, chunk);
}

/** Bets whose live row is ahead of the shadow: the workers projected them after the fill read them. */
const LIVE_AHEAD = `
SELECT l.tenant_id, l.bet_id FROM ${VIEW_TABLE} l
LEFT JOIN ${SHADOW_TABLE} s ON s.tenant_id = l.tenant_id AND s.bet_id = l.bet_id
WHERE s.version IS NULL OR l.version > s.version`;

/**
 * The same, limited to live rows written by transactions that a snapshot did not see: xmin at or
 * after the snapshot's xmin, i.e. no older (a superset — re-folding an extra bet is a no-op; frozen
 * rows have the greatest age and drop out).
 * A scan with a filter instead of a join of the whole live view: the locked pass (readers wait for
 * it) became several times shorter (docs/benchmarks.md, Rebuild).
 */
const LIVE_AHEAD_SINCE = `
SELECT l.tenant_id, l.bet_id FROM ${VIEW_TABLE} l
LEFT JOIN ${SHADOW_TABLE} s ON s.tenant_id = l.tenant_id AND s.bet_id = l.bet_id
WHERE age(l.xmin) <= age($1::text::xid)
  AND (s.version IS NULL OR l.version > s.version)`;

/**
 * Re-folds into the shadow every bet the live view has ahead of it. The fill's snapshot is the
 * watermark: what workers projected after it is exactly what the live view has ahead, found by
 * version. Events appended but not yet projected by anyone need no care: the workers project them
 * into whichever table is bets_view when they get there.
 */
async function catchUp(client: PoolClient, shadow: string, sinceXmin: number | undefined): Promise<number> {
  const { rows } = await client.query<{ tenant_id: number; bet_id: string }>(
    sinceXmin === undefined ? LIVE_AHEAD : { text: LIVE_AHEAD_SINCE, values: [sinceXmin] },
  );
  return refoldInto(client, shadow, rows, upsertBetRows);
}

/** Re-folds these bets from the store into `shadow` through the reducer, with `write`; how many. */
async function refoldInto(
  client: PoolClient,
  shadow: string,
  rows: ReadonlyArray<{ tenant_id: number; bet_id: string }>,
  write: typeof upsertBetRows,
): Promise<number> {
  const bets = rows.map((row) => ({ tenantId: row.tenant_id, betId: row.bet_id }));
  const unique = [...new Map(bets.map((b) => [betKey(b.tenantId, b.betId), b])).values()];
  for (let i = 0; i < unique.length; i += 1_000) {
    await write(client, await foldFromStore(client, unique.slice(i, i + 1_000)), shadow);
  }
  return unique.length;
}

function betsShadow(strategy: FillStrategy): ShadowFill {
  return {
    table: VIEW_TABLE,
    colocateWith: 'bet_events',
    key: ['tenant_id', 'bet_id'],
    // The read model's columns: not when a row was written, nor what it was before its last write.
    notCompared: [WRITTEN_AT.name, ...PREVIOUS_COLUMNS.map((c) => c.name)],
    // The same grants and row-level security as the live table (migration 006).
    secure: async (db, shadow) => void (await db.query('SELECT secure_bets_view_table($1)', [shadow])),
    fill: (pool: Pool, shadow, chunk, dialect) =>
      strategy === 'copy'
        ? fillByCopy(pool, shadow, chunk)
        : inTransaction(pool, async (client) => {
            // One snapshot for the fill and the held bets: a bet that a newer producer's event
            // holds while the fill runs is either filled or held here, never both.
            await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
            await client.query(`SET LOCAL work_mem = '${FILL_WORK_MEM}'`);
            await client.query(FILL_PLANNER_SETTINGS);
            for (const setting of dialect.allShardsInParallel) await client.query(setting);
            const filled = (await client.query(fillSql(shadow, chunk))).rowCount ?? 0;
            const held = await client.query<{ tenant_id: number; bet_id: string }>(heldBetsSql(chunk));
            // Left out of the fill above, so new to the shadow, which has no primary key yet.
            return filled + (await refoldInto(client, shadow, held.rows, insertBetRows));
          }),
    catchUp,
  };
}

export async function rebuildBetsView(pool: Pool, options: RebuildOptions = {}): Promise<RebuildReport> {
  const strategy = options.strategy ?? 'set';
  const { rows: head } = await pool.query<{ events: number }>(
    'SELECT count(*)::bigint AS events FROM bet_events',
  );
  const events = Number(head[0]!.events);
  const report = await rebuildByShadow(pool, betsShadow(strategy), {
    chunks: options.chunks ?? DEFAULT_REBUILD_CHUNKS,
    concurrency: options.concurrency ?? 2,
    fillTotal: events,
    ...(options.dryRun !== undefined && { dryRun: options.dryRun }),
    ...(options.lockTimeoutMs !== undefined && { lockTimeoutMs: options.lockTimeoutMs }),
    ...(options.onProgress && { onProgress: options.onProgress }),
  });
  const { rows: bets, caughtUp: caughtUpBets, ...rest } = report;
  return { strategy, events, bets, caughtUpBets, ...rest };
}
