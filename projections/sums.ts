/**
 * The statement that adds a follower's deltas to its table (TransitionFollower.adds), built from the
 * table's declaration in the dialect's form: one unnest statement on PostgreSQL, routed VALUES
 * slices on Citus.
 */
import type { BulkInsert, Dialect, SqlStatement } from '../src/db/dialect.js';
import type { SummedTable } from './projection.js';

const built = new WeakMap<SummedTable, BulkInsert>();

/** The addition as a bulk insert: ON CONFLICT on the key, each sum added to the stored one. */
function additionOf(adds: SummedTable): BulkInsert {
  let insert = built.get(adds);
  if (!insert) {
    const assignments = [
      ...adds.sums.map((c) => `${c.name} = x.${c.name} + EXCLUDED.${c.name}`),
      ...(adds.alsoSet ?? []),
    ];
    insert = {
      name: `${adds.table}_add`,
      into: `${adds.table} AS x`,
      columns: [...adds.key, ...adds.sums],
      tail: `ON CONFLICT (${adds.key.map((c) => c.name).join(', ')}) DO UPDATE SET
  ${assignments.join(',\n  ')}`,
    };
    built.set(adds, insert);
  }
  return insert;
}

/** `rows` (key values, then sums) added to `adds`' table. */
export function addToSums(
  dialect: Dialect,
  adds: SummedTable,
  rows: ReadonlyArray<readonly unknown[]>,
): SqlStatement[] {
  return dialect.insertRows(additionOf(adds), rows);
}
