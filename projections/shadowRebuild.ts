/**
 * A read model rebuilt without downtime, whatever its table: fill a shadow of the live table, build
 * its indexes, catch up with what the workers wrote meanwhile, then swap it in under a short lock.
 * Readers keep reading the old table until the swap commits and never see an empty or half-built
 * table; workers keep running (their writes wait for the lock for a moment, then land in the new
 * table). The read model gives the fill, the catch-up and its table's protection (ShadowFill); the
 * phases are this module's, in this order: fill → index → catch-up → swap → analyze (or compare,
 * for a dry run).
 */
import pLimit from 'p-limit';
import type { Dialect } from '../src/db/dialect.js';
import { detectDialect } from '../src/db/platform.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from '../src/db/pool.js';
import { chunks, type Chunk } from './chunks.js';
import {
  copyStorageParameters,
  indexShadow,
  liveIndexes,
  shadowIndexName,
  type LiveIndex,
} from './shadowIndexes.js';

/** What a read model gives its rebuild. */
export interface ShadowFill {
  /** The live table. */
  readonly table: string;
  /** The table the shadow sits beside on Citus (colocated, distributed by tenant_id). */
  readonly colocateWith: string;
  /** The key columns the dry run's comparison joins on. */
  readonly key: readonly string[];
  /** Bookkeeping columns the comparison leaves out. */
  readonly notCompared: readonly string[];
  /** Gives the shadow the live table's grants and row-level security, before anyone can see it. */
  secure(db: Queryable, shadow: string): Promise<void>;
  /** Fills one chunk of the source into the shadow, in a transaction of its own; the rows written. */
  fill(pool: Pool, shadow: string, chunk: Chunk, dialect: Dialect): Promise<number>;
  /**
   * Brings into the shadow what the live table has ahead of it: with `sinceXmin`, only rows written
   * by transactions a snapshot with that xmin did not see. The rows brought.
   */
  catchUp(client: PoolClient, shadow: string, sinceXmin: number | undefined): Promise<number>;
}

export type RebuildPhase = 'fill' | 'index' | 'catch-up' | 'swap' | 'analyze' | 'compare';

export interface RebuildProgress {
  readonly phase: RebuildPhase;
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

export interface ShadowRebuildOptions {
  readonly chunks: number;
  readonly concurrency: number;
  readonly dryRun?: boolean;
  readonly lockTimeoutMs?: number;
  /** What the fill's progress counts up to (the source's rows); the number of chunks if absent. */
  readonly fillTotal?: number;
  /** Told as each phase starts (done 0) and moves; awaited, so a caller can act between phases. */
  readonly onProgress?: (progress: RebuildProgress) => void | Promise<void>;
}

export interface Difference {
  /** The key columns' values. */
  readonly key: Record<string, unknown>;
  readonly live: Record<string, unknown> | null;
  readonly rebuilt: Record<string, unknown> | null;
}

export interface ShadowRebuildReport {
  readonly rows: number;
  readonly fillMs: number;
  readonly indexMs: number;
  readonly caughtUp: number;
  readonly lockedMs: number;
  /** From the start until the swap committed: readers read the new table from then on (0 on a dry run). */
  readonly liveMs: number;
  /** ANALYZE of the new live table, after the swap (0 on a dry run). */
  readonly analyzeMs: number;
  /** Why that ANALYZE failed, if it did: the swap stands, and autovacuum gathers them later. */
  readonly analyzeError?: string;
  readonly totalMs: number;
  readonly swapped: boolean;
  readonly differences?: { readonly count: number; readonly sample: Difference[] };
}

/** The shadow's name for a live table. */
export function shadowOf(table: string): string {
  return `${table}_rebuild`;
}

async function createShadow(db: Queryable, fill: ShadowFill, dialect: Dialect): Promise<void> {
  const shadow = shadowOf(fill.table);
  await db.query(`DROP TABLE IF EXISTS ${shadow}`);
  await db.query(`CREATE TABLE ${shadow} (LIKE ${fill.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  for (const statement of dialect.colocate(shadow, fill.colocateWith)) await db.query(statement);
  await fill.secure(db, shadow);
}

/** The oldest transaction id a snapshot taken now does not see as finished (32-bit, as xmin columns hold it). */
async function snapshotXmin(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ xmin: string }>(
    'SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296)::text AS xmin',
  );
  return Number(rows[0]!.xmin);
}

async function swap(client: PoolClient, table: string, indexes: readonly LiveIndex[]): Promise<void> {
  const retired = `${table}_retired`;
  await client.query(`ALTER TABLE ${table} RENAME TO ${retired}`);
  await client.query(`ALTER TABLE ${shadowOf(table)} RENAME TO ${table}`);
  await client.query(`DROP TABLE ${retired}`);
  // Index, not constraint, renames: Citus refuses RENAME CONSTRAINT on distributed tables.
  for (const index of indexes)
    await client.query(`ALTER INDEX ${shadowIndexName(index)} RENAME TO ${index.name}`);
}

/** Rows that differ between the shadow and the live table, by key: how many, and some of them. */
async function compare(
  db: Queryable,
  fill: ShadowFill,
  limit = 20,
): Promise<{ count: number; sample: Difference[] }> {
  const skip = fill.notCompared.map((name) => `'${name}'`).join(' - ');
  const row = (alias: string) => (skip ? `to_jsonb(${alias}) - ${skip}` : `to_jsonb(${alias})`);
  const keys = fill.key.map((k) => `coalesce(s.${k}, l.${k}) AS ${k}`).join(', ');
  const on = fill.key.map((k) => `l.${k} = s.${k}`).join(' AND ');
  const first = fill.key[0]!;
  const { rows } = await db.query<
    Record<string, unknown> & {
      live: Record<string, unknown> | null;
      rebuilt: Record<string, unknown> | null;
      total: number;
    }
  >(
    `SELECT ${keys},
       CASE WHEN l.${first} IS NULL THEN NULL ELSE ${row('l')} END AS live,
       CASE WHEN s.${first} IS NULL THEN NULL ELSE ${row('s')} END AS rebuilt,
       count(*) OVER () AS total
     FROM ${shadowOf(fill.table)} s FULL JOIN ${fill.table} l ON ${on}
     WHERE (${row('s')}) IS DISTINCT FROM (${row('l')})
     ORDER BY ${fill.key.map((_, i) => i + 1).join(', ')} LIMIT $1`,
    [limit],
  );
  return {
    count: Number(rows[0]?.total ?? 0),
    sample: rows.map((r) => ({
      key: Object.fromEntries(fill.key.map((k) => [k, r[k]])),
      live: r.live,
      rebuilt: r.rebuilt,
    })),
  };
}

/** The phases, in order: fill, index, catch-up, swap, then analyze (or compare, for a dry run). */
export async function rebuildByShadow(
  pool: Pool,
  fill: ShadowFill,
  options: ShadowRebuildOptions,
): Promise<ShadowRebuildReport> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const progress = (phase: RebuildPhase, done: number, total: number) =>
    options.onProgress?.({ phase, done, total, elapsedMs: elapsed() });
  const dialect = await detectDialect(pool);
  const shadow = shadowOf(fill.table);

  // Live rows written by transactions older than this were committed before any fill snapshot was
  // taken, and their sources with them: the fill has gone at least as far.
  const beforeFill = await snapshotXmin(pool);
  await createShadow(pool, fill, dialect);
  const parts = chunks(options.chunks);
  const fillTotal = options.fillTotal ?? parts.length;
  const limit = pLimit(options.concurrency);
  let rows = 0;
  let filled = 0;
  await progress('fill', 0, fillTotal);
  await Promise.all(
    parts.map((chunk) =>
      limit(async () => {
        // Awaited first: `rows += await …` would read `rows` before the other chunks add to it.
        const written = await fill.fill(pool, shadow, chunk, dialect);
        rows += written;
        filled += fillTotal / parts.length;
        await progress('fill', Math.round(filled), fillTotal);
      }),
    ),
  );
  const fillMs = elapsed();
  const indexes = await liveIndexes(pool, fill.table);
  await progress('index', 0, indexes.length);
  await indexShadow(pool, { table: fill.table, shadow }, indexes, options.concurrency, dialect);
  await copyStorageParameters(pool, fill.table, shadow);
  const indexMs = elapsed() - fillMs;

  const built = { rows, fillMs, indexMs };
  if (options.dryRun) {
    await progress('compare', 0, 1);
    const differences = await compare(pool, fill);
    await pool.query(`DROP TABLE ${shadow}`);
    return {
      ...built,
      caughtUp: 0,
      lockedMs: 0,
      liveMs: 0,
      analyzeMs: 0,
      totalMs: elapsed(),
      swapped: false,
      differences,
    };
  }

  // Most of the catching up happens before the lock, in one snapshot, and looks only at rows written
  // by transactions the fill's snapshots may not have seen; the locked pass only at rows written by
  // transactions that snapshot did not see. (Where xmin is not comparable, both compare all.)
  const since = (xmin: number) => (dialect.comparableXmin ? xmin : undefined);
  await progress('catch-up', 0, 1);
  const first = await inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const xmin = await snapshotXmin(client);
    return { rows: await fill.catchUp(client, shadow, since(beforeFill)), xmin };
  });
  let caughtUp = first.rows;
  await progress('swap', 0, 1);
  const lockStarted = performance.now();
  await inTransaction(pool, async (client) => {
    await client.query(`SET LOCAL lock_timeout = ${Number(options.lockTimeoutMs ?? 10_000)}`);
    // ACCESS EXCLUSIVE from the start, not EXCLUSIVE upgraded for the renames: a worker that read
    // the table in its flush transaction and then waits to write would deadlock with the upgrade
    // (seen in the live-rebuild test). Readers wait for the locked catch-up and the swap, then read
    // the new table; they never see it empty.
    await client.query(`LOCK TABLE ${fill.table} IN ACCESS EXCLUSIVE MODE`);
    caughtUp += await fill.catchUp(client, shadow, since(first.xmin));
    await swap(client, fill.table, indexes);
  });
  const lockedMs = Math.round(performance.now() - lockStarted);
  const liveMs = elapsed();
  await progress('swap', 1, 1);
  await progress('analyze', 0, 1);
  const analyzed = await analyzeLive(pool, fill.table);
  await progress('analyze', 1, 1);
  return {
    ...built,
    caughtUp,
    lockedMs,
    liveMs,
    analyzeMs: elapsed() - liveMs,
    ...(analyzed !== true && { analyzeError: analyzed }),
    totalMs: elapsed(),
    swapped: true,
  };
}

/**
 * The planner's statistics of the new live table, gathered with readers and writers running
 * (ANALYZE blocks neither). Before the swap it could not run beside the index builds, and delayed
 * the swap by its own time. Until it ends, the planner has the row count the index builds recorded.
 * The swap has committed: a failure here (a lock timeout, a cancel) is reported, not thrown, and
 * autovacuum gathers the statistics later.
 */
async function analyzeLive(pool: Pool, table: string): Promise<true | string> {
  try {
    await pool.query(`ANALYZE ${table}`);
    return true;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
