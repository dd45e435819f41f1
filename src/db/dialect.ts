/**
 * The one place where PostgreSQL and Citus differ. A dialect is chosen once, from what the database
 * reports at start (platform.ts, `detectDialect`), and every statement whose shape depends on the
 * platform is built by it from a declaration of what the statement means: a bulk insert of rows, a
 * read of rows by their keys, the settings of a transaction over every shard, the DDL that makes a
 * table a sibling of another. No other module asks which platform it is on.
 *
 * - PostgreSQL: a batch binds one array per column and expands it with unnest — one statement of
 *   fixed text, prepared once per connection.
 * - Citus: a multi-row VALUES list, which Citus splits into one task per shard (it plans
 *   `INSERT … SELECT FROM unnest(…)` through the coordinator: computed there, then redistributed);
 *   a large batch of an insert that declares a staging table goes through it instead (`staged`);
 *   reads by plain filters routed to the tenants' shards (up to 100 statements, one per shard, or
 *   per tenant where the shard is not known), a superset the dialect filters back to the keys asked
 *   for.
 */
import { randomUUID } from 'node:crypto';
import type { Platform } from '../config.js';
import { groupsOfKeys, keyOfValues } from './keyGroups.js';
import { rowMajor, rowsPerStatement, slices, valuesList } from './valuesList.js';

/** A statement and its bound values. */
export interface SqlStatement {
  readonly name?: string;
  readonly text: string;
  readonly values: unknown[];
}

/** A column a statement binds. */
export interface BoundColumn {
  readonly name: string;
  /** The type its value is bound as (and unnest()'s array element type). */
  readonly bound: string;
  /** The column's value from a bound parameter `p`, where not the parameter itself. */
  readonly write?: (p: string) => string;
}

/** `INSERT INTO <into> (<columns>, <computed>) <rows> <tail>`, declared once for both forms. */
export interface BulkInsert {
  /** The table, with its alias if the tail names one: `bets_view AS v`. */
  readonly into: string;
  readonly columns: readonly BoundColumn[];
  /**
   * Columns written by the database, not bound: `{ name: 'projected_at', value: 'clock_timestamp()' }`.
   * `onShards`, where `value` is volatile: what the staged form writes instead, since Citus runs an
   * `INSERT … SELECT` with a volatile function through the coordinator rather than on the shards.
   */
  readonly computed?: ReadonlyArray<{
    readonly name: string;
    readonly value: string;
    readonly onShards?: string;
  }>;
  /** ON CONFLICT … RETURNING …, after the rows. */
  readonly tail: string;
  /**
   * Prepared under this name: PostgreSQL's fixed text, and on Citus each padded size (unpadded
   * lists go unnamed). Leave it out where a plan cached per connection could go stale as the table
   * grows.
   */
  readonly name?: string;
  /**
   * Citus only: the rows a VALUES list is padded to, by repeating the last row, so a connection
   * holds few prepared sizes. Only for a tail that skips a row it meets twice (DO NOTHING).
   */
  readonly padTo?: (rows: number) => number;
  /** At most this many rows per VALUES list (default: as many as the parameter limit allows, ≤ 1,000). */
  readonly maxRowsPerStatement?: number;
  /**
   * Citus only: a table of the insert's columns (their names, their bound types) and `batch_id
   * uuid`, `ordinal bigint`, distributed by tenant_id beside `into`. A batch of STAGED_FROM_ROWS
   * rows or more goes through it (stagedInsert): the coordinator then routes rows as COPY does,
   * instead of writing each into the text of a shard's task. The statements must run in order on
   * one connection, in one transaction; their answers' rows are the insert's RETURNING, and only
   * the `INSERT … SELECT`'s row count is the insert's.
   */
  readonly staged?: string;
  /**
   * The rows are shared between concurrent writers (a follower's, which many flushes add to): its
   * staged statement keeps Citus's shard lock, so such writers take turns on the shards instead of
   * deadlocking across nodes (see stagedInsert).
   */
  readonly sharedRows?: boolean;
}

/**
 * From this many rows a staged insert (BulkInsert.staged) goes through its staging table: three
 * statements over the shards instead of one cost more than they save below it (docs/citus.md).
 */
export const STAGED_FROM_ROWS = 400;

/**
 * `SELECT <columns> FROM <from> WHERE (<keys>) IN <the keys asked for> <orderBy>`, declared once for
 * both forms. The first key is the table's distribution column (tenant_id).
 */
export interface KeyedRead {
  /** The select list. */
  readonly columns: string;
  /** The table, by its bare name (its shards are looked up by it on Citus). */
  readonly from: string;
  readonly keys: readonly BoundColumn[];
  /** `ORDER BY …`, if any. */
  readonly orderBy?: string;
}

/**
 * A read by keys: its statements (their answers' rows together, in order, are the read's), and the
 * filter that leaves exactly the keys asked for. src/db/keyedRead.ts runs them.
 */
export interface KeyedQuery {
  readonly statements: readonly SqlStatement[];
  /** The rows of the answer whose key (`keyOf`, in the declaration's key order) was asked for. */
  keep<R>(rows: readonly R[], keyOf: (row: R) => readonly unknown[]): R[];
}

export interface Dialect {
  readonly platform: Platform;
  /** The insert, as one statement (PostgreSQL) or as routed slices (Citus). `rows` in column order. */
  insertRows(insert: BulkInsert, rows: ReadonlyArray<readonly unknown[]>): SqlStatement[];
  /**
   * A read of the rows with these keys (`keys` in the declaration's key order). `shardOf`: the shard
   * holding a value of the first key, where known (Citus).
   */
  readByKeys(
    read: KeyedRead,
    keys: ReadonlyArray<readonly unknown[]>,
    shardOf?: (first: unknown) => string | undefined,
  ): KeyedQuery;
  /**
   * Citus only: the statement reading a table's shards and the hash range of each (`shard`, `min`,
   * `max`, sorted by `min`), for readByKeys' `shardOf` (src/db/shardMap.ts).
   */
  shardRangesStatement?(table: string): SqlStatement;
  /** Settings every new connection takes before anything else (none on PostgreSQL). */
  readonly sessionSettings: readonly string[];
  /** Settings of a transaction that runs one statement over every shard (the rebuild's fill). */
  readonly allShardsInParallel: readonly string[];
  /** Settings of a migration's transaction. */
  readonly migrationSettings: readonly string[];
  /**
   * Whether a data-modifying common table expression runs where its rows are (PostgreSQL), so a
   * write and the writes that follow from its RETURNING can be one statement. Citus runs one
   * through the coordinator (every row pulled there and pushed back): there they are separate
   * statements, the later ones sent with the rows the first returned.
   */
  readonly chainedWrites: boolean;
  /**
   * Whether a row's xmin compares with a snapshot taken through the pool: on Citus a row lives in a
   * shard, whose transaction ids are the worker node's own.
   */
  readonly comparableXmin: boolean;
  /**
   * Whether a commit is seen everywhere at once (PostgreSQL). On Citus a transaction over several
   * worker nodes commits in two phases, and a commit cut off on one node stays invisible, its rows
   * locked, until Citus recovers it: a statement that adds a difference read before then would add
   * it again once it shows. So the followers' repair adds what a row lacks only on PostgreSQL; on
   * Citus it sets the row, under a table lock (projections/sums.ts).
   */
  readonly atomicCommit: boolean;
  /** Makes a new table a sibling of `like`: distributed as it is (Citus), nothing on PostgreSQL. */
  colocate(table: string, like: string): SqlStatement[];
  /**
   * The default flush size while a partition has a backlog (consumers/flushSize.ts): each flush pays
   * a transaction and, on Citus, a task per shard it touches and a two-phase commit, whatever its
   * size (docs/benchmarks.md has the figures that chose it).
   */
  readonly backlogFlushEvents: number;
}

const ALL_KEPT: KeyedQuery['keep'] = (rows) => [...rows];

/** The column's value from the expression `p` that gives its bound value. */
function writeOf(column: BoundColumn, p: string): string {
  return column.write ? column.write(p) : p;
}

/** The rows as one array per column, in the declaration's column order. */
function columnArrays(insert: BulkInsert, rows: ReadonlyArray<readonly unknown[]>): unknown[][] {
  const columns: unknown[][] = insert.columns.map(() => new Array<unknown>(rows.length));
  rows.forEach((row, r) => row.forEach((value, c) => ((columns[c] as unknown[])[r] = value)));
  return columns;
}

/** `unnest($n::type[], …)`, the arrays numbered from `first`. */
function unnestOf(columns: readonly BoundColumn[], first: number): string {
  return `unnest(${columns.map((c, i) => `$${i + first}::${c.bound}[]`).join(', ')})`;
}

/**
 * A Citus insert through its staging table, in three statements after a setting: the batch into
 * the staging table (an INSERT … SELECT FROM unnest with no ON CONFLICT nor RETURNING, which Citus
 * computes on the coordinator and sends to the shards as COPY), the insert itself from there (an
 * INSERT … SELECT between colocated tables, run on each shard the batch touches; in the rows'
 * order, so writers lock rows in one order within each shard), and the batch's deletion. The
 * batch's id and its tenants prune every statement to the shards it touches. The order is a
 * subquery's: Citus pulls an INSERT … SELECT with an ORDER BY of its own through the coordinator,
 * as it does one with a volatile function.
 */
function stagedInsert(
  insert: BulkInsert,
  stage: string,
  rows: ReadonlyArray<readonly unknown[]>,
): SqlStatement[] {
  const names = insert.columns.map((c) => c.name);
  const tenant = names.indexOf('tenant_id');
  if (tenant < 0) throw new Error(`staged insert into ${insert.into}: no tenant_id column to route by`);
  const batch = randomUUID();
  const tenants = [...new Set(rows.map((row) => row[tenant]))];
  const computed = insert.computed ?? [];
  const written = insert.columns.map((c) => writeOf(c, `s.${c.name}`));
  const scope = `s.batch_id = $1 AND s.tenant_id = ANY($2::${insert.columns[tenant]!.bound}[])`;
  return [
    // Citus lets one multi-shard write at a time hold a shard, until its transaction ends, against
    // deadlocks between them (citus.enable_deadlock_prevention). A multi-row INSERT never takes that
    // lock: it runs its tasks one at a time, in shard order. bets_view's rows are a partition's own:
    // its UPSERT goes without the lock, or it would hold its shards through the followers and the
    // commit and the flushes of other partitions would queue behind it; only the sweep or a
    // rebalance on the same bet at the same moment can then deadlock across nodes, which Citus's
    // detector cancels and the writer retries (src/errors.ts). Rows that flushes share (a
    // follower's) keep the lock: two flushes adding to the same users take turns on the shards, where
    // without it their tasks, running on both nodes at once, deadlocked (docs/benchmarks.md).
    {
      text: `SET LOCAL citus.enable_deadlock_prevention TO ${insert.sharedRows ? 'on' : 'off'}`,
      values: [],
    },
    {
      name: `${stage}_in`,
      text: `
INSERT INTO ${stage} (batch_id, ${names.join(', ')}, ordinal)
SELECT $1, u.* FROM ${unnestOf(insert.columns, 2)} WITH ORDINALITY AS u(${names.join(', ')}, ordinal)`,
      values: [batch, ...columnArrays(insert, rows)],
    },
    {
      text: `
INSERT INTO ${insert.into} (${[...names, ...computed.map((c) => c.name)].join(', ')})
SELECT ${[...written, ...computed.map((c) => c.onShards ?? c.value)].join(', ')}
FROM (SELECT * FROM ${stage} s WHERE ${scope} ORDER BY s.ordinal) s
${insert.tail}`,
      values: [batch, tenants],
    },
    { text: `DELETE FROM ${stage} s WHERE ${scope}`, values: [batch, tenants] },
  ];
}

const postgres: Dialect = {
  platform: 'postgres',
  insertRows(insert, rows) {
    if (rows.length === 0) return [];
    const names = insert.columns.map((c) => c.name);
    const values = insert.columns.map((c) => writeOf(c, `u.${c.name}`));
    const computed = insert.computed ?? [];
    return [
      {
        ...(insert.name && { name: insert.name }),
        text: `
INSERT INTO ${insert.into} (${[...names, ...computed.map((c) => c.name)].join(', ')})
SELECT ${[...values, ...computed.map((c) => c.value)].join(', ')}
FROM ${unnestOf(insert.columns, 1)} AS u(${names.join(', ')})
${insert.tail}`,
        values: columnArrays(insert, rows),
      },
    ];
  },
  readByKeys(read, keys) {
    const names = read.keys.map((k) => k.name).join(', ');
    const arrays = read.keys.map((k, i) => `$${i + 1}::${k.bound}[]`).join(', ');
    // Unnamed: planned for these keys each time (cheap). A named statement switches to a generic
    // plan cached per connection, and one made while the table was small stays a sequential scan
    // as the table grows (the bench saw a back-fill's reads soon cost more than its UPSERT).
    return {
      statements: [
        {
          text: `${selectOf(read)}
WHERE (${names}) IN (SELECT * FROM unnest(${arrays}))${read.orderBy ? `\n${read.orderBy}` : ''}`,
          values: read.keys.map((_, i) => keys.map((k) => k[i])),
        },
      ],
      keep: ALL_KEPT,
    };
  },
  sessionSettings: [],
  allShardsInParallel: [],
  migrationSettings: [],
  chainedWrites: true,
  comparableXmin: true,
  atomicCommit: true,
  colocate: () => [],
  backlogFlushEvents: 1_000,
};

/**
 * On Citus, a read by keys goes as one statement per group of its keys (a shard, or a tenant where
 * the shard is not known) up to this many groups, and as one statement past that.
 */
export const MAX_READ_STATEMENTS = 100;

/** `SELECT <columns> FROM <from>` of a keyed read. */
function selectOf(read: KeyedRead): string {
  return `SELECT ${read.columns}\nFROM ${read.from}`;
}

const citus: Dialect = {
  platform: 'citus',
  insertRows(insert, rows) {
    if (insert.staged && rows.length >= STAGED_FROM_ROWS) return stagedInsert(insert, insert.staged, rows);
    const computed = insert.computed ?? [];
    const perRow = [
      ...insert.columns.map((c) => writeOf(c, `$::${c.bound}`)),
      ...computed.map((c) => c.value),
    ];
    const names = [...insert.columns.map((c) => c.name), ...computed.map((c) => c.name)].join(', ');
    const size = insert.maxRowsPerStatement ?? rowsPerStatement(insert.columns.length);
    return slices(rows, size).map((slice) => {
      const padded = insert.padTo ? Math.max(slice.length, insert.padTo(slice.length)) : slice.length;
      const values = rowMajor(slice);
      const last = slice[slice.length - 1]!;
      for (let i = slice.length; i < padded; i++) values.push(...last);
      return {
        // Named only where padding keeps the sizes few: a connection would hold one per size.
        ...(insert.name && insert.padTo && { name: `${insert.name}_values_${padded}` }),
        text: `
INSERT INTO ${insert.into} (${names})
VALUES ${valuesList(perRow, padded)}
${insert.tail}`,
        values,
      };
    });
  },
  readByKeys(read, keys, shardOf) {
    if (read.keys.length === 0) throw new Error(`keyed read without keys: ${selectOf(read)}`);
    const wanted = new Set(keys.map(keyOfValues));
    const keep: KeyedQuery['keep'] = (rows, keyOf) =>
      rows.filter((row) => wanted.has(keyOfValues(keyOf(row))));
    // Plain filters, which Citus pushes down to the shards of the tenants they name; they read a
    // superset of the keys, cut back to them here. Up to MAX_READ_STATEMENTS groups, one statement
    // per group of keys: each is routed to one shard alone, whose index is searched for the keys of
    // that shard's tenants only (a shard's few tenants crossed with their bets). One statement over
    // many tenants goes to every shard they are on, each task carrying every key, and searches the
    // index for every tenant crossed with every other key; past MAX_READ_STATEMENTS groups the round
    // trips of the statements cost more than that (docs/benchmarks.md).
    const groups = groupsOfKeys(keys, shardOf);
    const filters = read.keys.map((k, i) => `${k.name} = ANY($${i + 1}::${k.bound}[])`).join(' AND ');
    const text = `${selectOf(read)}\nWHERE ${filters}${read.orderBy ? `\n${read.orderBy}` : ''}`;
    const statementOf = (of: ReadonlyArray<readonly unknown[]>): SqlStatement => ({
      text,
      // Each tenant once, by its text (5 and '5' are one tenant); each other value once.
      values: read.keys.map((_, i) =>
        i === 0
          ? [...new Map(of.map((k) => [String(k[0]), k[0]])).values()]
          : [...new Set(of.map((k) => k[i]))],
      ),
    });
    return {
      statements: groups.length > MAX_READ_STATEMENTS ? [statementOf(keys)] : groups.map(statementOf),
      keep,
    };
  },
  shardRangesStatement: (table) => ({
    text: `SELECT shardid::text AS shard, shardminvalue::integer AS min, shardmaxvalue::integer AS max
FROM pg_dist_shard WHERE logicalrelid = $1::regclass AND shardminvalue IS NOT NULL
ORDER BY shardminvalue::integer`,
    values: [table],
  }),
  // One connection per worker node for a statement's shard tasks (Citus's default opens up to 16
  // and closes all but one at the end of each transaction): the projector's concurrency is its own
  // — a flush per partition, a producer per request — and more connections per node only queue on
  // its cores (docs/citus.md).
  sessionSettings: ['SET citus.max_adaptive_executor_pool_size = 1'],
  allShardsInParallel: ['SET LOCAL citus.max_adaptive_executor_pool_size TO DEFAULT'],
  // Migrations alter distributed tables: one shard after another in the migration's transaction.
  migrationSettings: [`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`],
  chainedWrites: false,
  comparableXmin: false,
  atomicCommit: false,
  colocate: (table, like) => [
    {
      text: `SELECT create_distributed_table($1, 'tenant_id', colocate_with => $2)`,
      values: [table, like],
    },
  ],
  backlogFlushEvents: 6_000,
};

export const DIALECTS: Readonly<Record<Platform, Dialect>> = { postgres, citus };
