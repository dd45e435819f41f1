/**
 * The shadow made like the live table after its fill: the live table's indexes, built on it side
 * by side (cheaper than maintaining them row by row), and its storage parameters. The swap renames
 * the shadow's indexes to the live names.
 */
import pLimit from 'p-limit';
import type { Dialect } from '../src/db/dialect.js';
import { inTransaction, type Pool, type Queryable } from '../src/db/pool.js';

/** Memory for each index build: spilling to disk would dominate. */
const INDEX_MAINTENANCE_WORK_MEM = '256MB';

/** A reloptions entry as the catalog spells it: `fillfactor=70`, `autovacuum_enabled=false`. */
const STORAGE_PARAMETER = /^[a-z_.]+=[A-Za-z0-9_.]+$/;

/**
 * The live table's storage parameters (a fillfactor, anything an operator set since), given to the
 * shadow after the fill: the fill writes packed pages, later updates get the room.
 */
export async function copyStorageParameters(db: Queryable, table: string, shadow: string): Promise<void> {
  const { rows } = await db.query<{ options: string[] | null }>(
    'SELECT reloptions AS options FROM pg_class WHERE oid = $1::regclass',
    [table],
  );
  const options = rows[0]?.options ?? [];
  if (options.length === 0) return;
  const odd = options.find((o) => !STORAGE_PARAMETER.test(o));
  if (odd !== undefined)
    throw new Error(`${table} storage parameter ${JSON.stringify(odd)} is not name=value`);
  // DDL takes no bind parameters; the entries come from the catalog and match the pattern above.
  await db.query(`ALTER TABLE ${shadow} SET (${options.join(', ')})`);
}

export interface LiveIndex {
  name: string;
  definition: string;
  primaryKey: boolean;
}

export async function liveIndexes(db: Queryable, table: string): Promise<LiveIndex[]> {
  const { rows } = await db.query<LiveIndex>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition,
            EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype = 'p') AS "primaryKey"
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = $1::regclass ORDER BY i.relname`,
    [table],
  );
  return rows;
}

const INDEX_SUFFIX = '_rebuild';

/** A live index's twin on the shadow, renamed to the live name by the swap. */
export function shadowIndexName(index: LiveIndex): string {
  return `${index.name}${INDEX_SUFFIX}`;
}

function shadowIndexSql(names: { table: string; shadow: string }, index: LiveIndex): string[] {
  const { table, shadow } = names;
  const sql = [
    index.definition
      .replace(` INDEX ${index.name} ON `, ` INDEX ${shadowIndexName(index)} ON `)
      .replace(new RegExp(` ON (public\\.)?${table} `), ` ON ${shadow} `),
  ];
  if (index.primaryKey) {
    sql.push(
      `ALTER TABLE ${shadow} ADD CONSTRAINT ${shadowIndexName(index)} PRIMARY KEY USING INDEX ${shadowIndexName(index)}`,
    );
  }
  return sql;
}

/**
 * The live table's indexes, built on the shadow after the fill (cheaper than maintaining them
 * row by row), each on its own connection so they build side by side.
 */
export async function indexShadow(
  pool: Pool,
  names: { table: string; shadow: string },
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
          for (const statement of shadowIndexSql(names, index)) await client.query(statement);
        }),
      ),
    ),
  );
}
