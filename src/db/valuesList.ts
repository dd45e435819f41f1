/**
 * Multi-row `VALUES` lists with bound parameters: the form Citus routes to shards. Citus plans
 * `INSERT … SELECT FROM unnest($1::…[])` through the coordinator (the rows are computed there,
 * then redistributed), while a multi-row `INSERT … VALUES` is split into one task per shard.
 */

/** Bound parameters per statement stay well below PostgreSQL's 65,535. */
const MAX_PARAMETERS = 32_000;

/**
 * Recently built lists, by row count and columns: a list of 1,000 rows is ~100 kB of text, and a
 * worker's flush sizes vary from 1 to 1,000, so the cache keeps the last few only (sizes repeat
 * while a backlog drains at the full size, or a producer sends batches of one size).
 */
const cache = new Map<string, string>();
const CACHED_LISTS = 16;

/**
 * `(<col 1 of row 1>, …), (<col 1 of row 2>, …)` for `rows` rows, where each column is an SQL
 * template in which `$` stands for that row's parameter of the column: `$::bigint`,
 * `'epoch'::timestamptz + $::bigint * interval '1 millisecond'`. A template without `$` takes no
 * parameter (`clock_timestamp()`). Parameters are numbered row by row, as `rowMajor` lays them out.
 */
export function valuesList(columns: readonly string[], rows: number): string {
  const key = `${rows}\u0000${columns.join('\u0000')}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const perRow = columns.filter((c) => c.includes('$')).length;
  const list: string[] = new Array<string>(rows);
  for (let r = 0; r < rows; r++) {
    let n = r * perRow;
    list[r] = `(${columns.map((c) => (c.includes('$') ? c.replace('$', `$${++n}`) : c)).join(', ')})`;
  }
  const text = list.join(',\n');
  if (cache.size >= CACHED_LISTS) cache.delete(cache.keys().next().value as string);
  cache.set(key, text);
  return text;
}

/** Parameters of a VALUES list, row after row. */
export function rowMajor(rows: ReadonlyArray<readonly unknown[]>): unknown[] {
  const out: unknown[] = [];
  for (const row of rows) for (const value of row) out.push(value);
  return out;
}

/** How many rows of `parameters` parameters each one statement takes (at most `cap`). */
export function rowsPerStatement(parameters: number, cap = 1_000): number {
  return Math.max(1, Math.min(cap, Math.floor(MAX_PARAMETERS / Math.max(1, parameters))));
}

/** `items` in slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
