/**
 * Full rebuild of bets_view from bet_events without downtime: fill a shadow table, catch up with
 * what the workers projected meanwhile, then swap it in under a short lock. Readers keep reading
 * the old table until the swap commits and never see an empty or half-built view; workers keep
 * running (their writes wait for the swap's lock for a moment, then land in the new table).
 */
import pLimit from 'p-limit';
import type { Dialect } from '../../src/db/dialect.js';
import { detectDialect } from '../../src/db/platform.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import { foldFromStore } from './index.js';
import { PREVIOUS_COLUMNS, WRITTEN_AT } from './columns.js';
import { upsertBetRows, VIEW_TABLE } from './statements.js';
import { fillByCopy } from './copyFill.js';
import { chunks, type Chunk } from './chunks.js';
import { FILL_PLANNER_SETTINGS, fillSql } from './fillStatement.js';

export const SHADOW_TABLE = 'bets_view_rebuild';
const RETIRED_TABLE = 'bets_view_retired';
const INDEX_SUFFIX = '_rebuild';
/**
 * Memory for the fill's hash aggregation (twice this, by PostgreSQL's hash_mem_multiplier) and the
 * index builds: spilling to disk would dominate. A chunk larger than this spills and stays
 * correct (or take more --chunks).
 */
const FILL_WORK_MEM = '128MB';
const INDEX_MAINTENANCE_WORK_MEM = '256MB';

/** Two chunks, one per connection of the default concurrency: each chunk reads the whole table once. */
export const DEFAULT_REBUILD_CHUNKS = 2;

export type FillStrategy = 'set' | 'copy';

export interface RebuildProgress {
  readonly phase: 'fill' | 'index' | 'catch-up' | 'swap' | 'compare';
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

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
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Awaited between the unlocked catch-up and the lock: the tests write to the live view here. */
  readonly beforeLock?: () => Promise<void>;
}

export interface Difference {
  readonly tenantId: number;
  readonly betId: string;
  readonly live: Record<string, unknown> | null;
  readonly rebuilt: Record<string, unknown> | null;
}

export interface RebuildReport {
  readonly strategy: FillStrategy;
  readonly events: number;
  readonly bets: number;
  readonly fillMs: number;
  readonly indexMs: number;
  readonly caughtUpBets: number;
  readonly lockedMs: number;
  readonly totalMs: number;
  readonly swapped: boolean;
  readonly differences?: { readonly count: number; readonly sample: Difference[] };
}

/** The set-based fill of one chunk of the shadow table (exported for the tests' EXPLAIN on Citus). */
export function shadowFillSql(chunk: Chunk): { text: string; values: unknown[] } {
  return fillSql(SHADOW_TABLE, chunk);
}

async function createShadow(db: Queryable, dialect: Dialect): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${SHADOW_TABLE}`);
  await db.query(
    `CREATE TABLE ${SHADOW_TABLE} (LIKE ${VIEW_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
  );
  for (const statement of dialect.colocate(SHADOW_TABLE, 'bet_events')) await db.query(statement);
  // The same grants and row-level security as the live table (migration 006), before any reader
  // can see the shadow under the live name.
  await db.query('SELECT secure_bets_view_table($1)', [SHADOW_TABLE]);
}

/** A reloptions entry as the catalog spells it: `fillfactor=70`, `autovacuum_enabled=false`. */
const STORAGE_PARAMETER = /^[a-z_.]+=[A-Za-z0-9_.]+$/;

/**
 * The live table's storage parameters (migration 007's fillfactor, anything an operator set since),
 * given to the shadow after the fill: the fill writes packed pages, later updates get the room.
 */
async function copyStorageParameters(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ options: string[] | null }>(
    'SELECT reloptions AS options FROM pg_class WHERE oid = $1::regclass',
    [VIEW_TABLE],
  );
  const options = rows[0]?.options ?? [];
  if (options.length === 0) return;
  const odd = options.find((o) => !STORAGE_PARAMETER.test(o));
  if (odd !== undefined)
    throw new Error(`${VIEW_TABLE} storage parameter ${JSON.stringify(odd)} is not name=value`);
  // DDL takes no bind parameters; the entries come from the catalog and match the pattern above.
  await db.query(`ALTER TABLE ${SHADOW_TABLE} SET (${options.join(', ')})`);
}

interface LiveIndex {
  name: string;
  definition: string;
  primaryKey: boolean;
}

async function liveIndexes(db: Queryable): Promise<LiveIndex[]> {
  const { rows } = await db.query<LiveIndex>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition,
            EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype = 'p') AS "primaryKey"
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = $1::regclass ORDER BY i.relname`,
    [VIEW_TABLE],
  );
  return rows;
}

function shadowIndexSql(index: LiveIndex): string[] {
  const sql = [
    index.definition
      .replace(` INDEX ${index.name} ON `, ` INDEX ${index.name}${INDEX_SUFFIX} ON `)
      .replace(/ ON (public\.)?bets_view /, ` ON ${SHADOW_TABLE} `),
  ];
  if (index.primaryKey) {
    sql.push(
      `ALTER TABLE ${SHADOW_TABLE} ADD CONSTRAINT ${index.name}${INDEX_SUFFIX} PRIMARY KEY USING INDEX ${index.name}${INDEX_SUFFIX}`,
    );
  }
  return sql;
}

/**
 * The live table's indexes, built on the shadow after the fill (cheaper than maintaining them
 * row by row), each on its own connection so they build side by side.
 */
async function indexShadow(
  pool: Pool,
  indexes: readonly LiveIndex[],
  concurrency: number,
  dialect: Dialect,
): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(
    indexes.map((index) =>
      limit(() =>
        inTransaction(pool, async (client) => {
          await client.query(`SET LOCAL maintenance_work_mem = '${INDEX_MAINTENANCE_WORK_MEM}'`);
          for (const setting of dialect.allShardsInParallel) await client.query(setting);
          for (const statement of shadowIndexSql(index)) await client.query(statement);
        }),
      ),
    ),
  );
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
 * it) became several times shorter (docs/benchmarks.md, Rebuild). PostgreSQL only: on Citus,
 * xmin is each shard's own, so the locked pass there compares everything.
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
 * into whichever table is bets_view when they get there. With `sinceXmin`, only rows written by
 * transactions that the first pass's snapshot did not see are compared.
 */
async function catchUp(client: PoolClient, sinceXmin?: number): Promise<number> {
  const { rows } = await client.query<{ tenant_id: number; bet_id: string }>(
    sinceXmin === undefined ? LIVE_AHEAD : { text: LIVE_AHEAD_SINCE, values: [sinceXmin] },
  );
  const bets = rows.map((row) => ({ tenantId: row.tenant_id, betId: row.bet_id }));
  const unique = [...new Map(bets.map((b) => [betKey(b.tenantId, b.betId), b])).values()];
  for (let i = 0; i < unique.length; i += 1_000) {
    await upsertBetRows(client, await foldFromStore(client, unique.slice(i, i + 1_000)), SHADOW_TABLE);
  }
  return unique.length;
}

/** The oldest transaction id a snapshot taken now does not see as finished (32-bit, as xmin columns hold it). */
async function snapshotXmin(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ xmin: string }>(
    'SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296)::text AS xmin',
  );
  return Number(rows[0]!.xmin);
}

async function swap(client: PoolClient, indexes: readonly LiveIndex[]): Promise<void> {
  await client.query(`ALTER TABLE ${VIEW_TABLE} RENAME TO ${RETIRED_TABLE}`);
  await client.query(`ALTER TABLE ${SHADOW_TABLE} RENAME TO ${VIEW_TABLE}`);
  await client.query(`DROP TABLE ${RETIRED_TABLE}`);
  // Index, not constraint, renames: Citus refuses RENAME CONSTRAINT on distributed tables.
  for (const index of indexes)
    await client.query(`ALTER INDEX ${index.name}${INDEX_SUFFIX} RENAME TO ${index.name}`);
}

/** The read model's columns: not when a row was written, nor what it was before its last write. */
const NOT_COMPARED = [WRITTEN_AT.name, ...PREVIOUS_COLUMNS.map((c) => c.name)]
  .map((name) => `'${name}'`)
  .join(' - ');

const DIFFERENCES = `
SELECT coalesce(s.tenant_id, l.tenant_id) AS tenant_id, coalesce(s.bet_id, l.bet_id) AS bet_id,
       CASE WHEN l.bet_id IS NULL THEN NULL ELSE to_jsonb(l) - ${NOT_COMPARED} END AS live,
       CASE WHEN s.bet_id IS NULL THEN NULL ELSE to_jsonb(s) - ${NOT_COMPARED} END AS rebuilt,
       count(*) OVER () AS total
FROM ${SHADOW_TABLE} s FULL JOIN ${VIEW_TABLE} l ON l.tenant_id = s.tenant_id AND l.bet_id = s.bet_id
WHERE (to_jsonb(s) - ${NOT_COMPARED}) IS DISTINCT FROM (to_jsonb(l) - ${NOT_COMPARED})
ORDER BY 1, 2 LIMIT $1`;

async function compare(db: Queryable, limit = 20): Promise<{ count: number; sample: Difference[] }> {
  const { rows } = await db.query<{
    tenant_id: number;
    bet_id: string;
    live: Record<string, unknown> | null;
    rebuilt: Record<string, unknown> | null;
    total: number;
  }>(DIFFERENCES, [limit]);
  return {
    count: rows[0]?.total ?? 0,
    sample: rows.map((r) => ({ tenantId: r.tenant_id, betId: r.bet_id, live: r.live, rebuilt: r.rebuilt })),
  };
}

export async function rebuildBetsView(pool: Pool, options: RebuildOptions = {}): Promise<RebuildReport> {
  const strategy = options.strategy ?? 'set';
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const progress = (phase: RebuildProgress['phase'], done: number, total: number) =>
    options.onProgress?.({ phase, done, total, elapsedMs: elapsed() });

  const { rows: head } = await pool.query<{ events: number }>(
    'SELECT count(*)::bigint AS events FROM bet_events',
  );
  const events = head[0]!.events;
  const dialect = await detectDialect(pool);
  // Live rows written by transactions older than this were committed before any fill snapshot was
  // taken, and their events with them: the fill has folded at least as far.
  const beforeFill = await snapshotXmin(pool);
  await createShadow(pool, dialect);
  const parts = chunks(options.chunks ?? DEFAULT_REBUILD_CHUNKS);
  const limit = pLimit(options.concurrency ?? 2);
  let bets = 0;
  let filledEvents = 0;
  progress('fill', 0, events);
  await Promise.all(
    parts.map((chunk) =>
      limit(async () => {
        const written =
          strategy === 'copy'
            ? await fillByCopy(pool, SHADOW_TABLE, chunk)
            : await inTransaction(pool, async (client) => {
                await client.query(`SET LOCAL work_mem = '${FILL_WORK_MEM}'`);
                await client.query(FILL_PLANNER_SETTINGS);
                for (const setting of dialect.allShardsInParallel) await client.query(setting);
                return (await client.query(shadowFillSql(chunk))).rowCount ?? 0;
              });
        bets += written;
        filledEvents += events / parts.length;
        progress('fill', Math.round(filledEvents), events);
      }),
    ),
  );
  const fillMs = elapsed();
  const indexes = await liveIndexes(pool);
  progress('index', 0, indexes.length);
  await indexShadow(pool, indexes, options.concurrency ?? 2, dialect);
  await copyStorageParameters(pool);
  await pool.query(`ANALYZE ${SHADOW_TABLE}`);
  const indexMs = elapsed() - fillMs;

  const built = { strategy, events, bets, fillMs, indexMs };
  if (options.dryRun) {
    progress('compare', 0, 1);
    const differences = await compare(pool);
    await pool.query(`DROP TABLE ${SHADOW_TABLE}`);
    return { ...built, caughtUpBets: 0, lockedMs: 0, totalMs: elapsed(), swapped: false, differences };
  }

  // Most of the catching up happens before the lock, in one snapshot, and looks only at rows written
  // by transactions the fill's snapshots may not have seen; the locked pass only at rows written by
  // transactions that snapshot did not see. (Citus: xmin is each shard's own; both compare all.)
  progress('catch-up', 0, 1);
  const first = await inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const xmin = await snapshotXmin(client);
    return { bets: await catchUp(client, dialect.comparableXmin ? beforeFill : undefined), xmin };
  });
  let caughtUpBets = first.bets;
  await options.beforeLock?.();
  progress('swap', 0, 1);
  const lockStarted = performance.now();
  await inTransaction(pool, async (client) => {
    await client.query(`SET LOCAL lock_timeout = ${Number(options.lockTimeoutMs ?? 10_000)}`);
    // ACCESS EXCLUSIVE from the start, not EXCLUSIVE upgraded for the renames: a worker that read
    // bets_view in its flush transaction and then waits to write would deadlock with the upgrade
    // (seen in the live-rebuild test). Readers wait for the locked catch-up and the swap (a few
    // hundred ms at 1M events), then read the new table; they never see it empty.
    await client.query(`LOCK TABLE ${VIEW_TABLE} IN ACCESS EXCLUSIVE MODE`);
    caughtUpBets += await catchUp(client, dialect.comparableXmin ? first.xmin : undefined);
    await swap(client, indexes);
  });
  const lockedMs = Math.round(performance.now() - lockStarted);
  progress('swap', 1, 1);
  return { ...built, caughtUpBets, lockedMs, totalMs: elapsed(), swapped: true };
}
