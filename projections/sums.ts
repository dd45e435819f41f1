/**
 * The SQL that adds a follower's change to its table (TransitionFollower), from its declaration:
 * the change summed per key, in key order (two flushes touching the same keys lock their rows in
 * the same order), then added ON CONFLICT to what is stored.
 */
import type { SummedTable, TransitionFollower } from './projection.js';

/** `INSERT … SELECT` of the follower's change, summed per key, read from the relation `change`. */
export function additionSql(adds: SummedTable, change: string): string {
  const key = adds.key.map((c) => c.name);
  const sums = adds.sums.map((c) => c.name);
  const assignments = [...sums.map((c) => `${c} = x.${c} + EXCLUDED.${c}`), ...(adds.alsoSet ?? [])];
  return `INSERT INTO ${adds.table} AS x (${[...key, ...sums].join(', ')})
SELECT ${[...key, ...sums.map((c) => `sum(${c})`)].join(', ')}
FROM ${change}
GROUP BY ${key.join(', ')}
HAVING ${sums.map((c) => `sum(${c}) <> 0`).join(' OR ')}
ORDER BY ${key.join(', ')}
ON CONFLICT (${key.join(', ')}) DO UPDATE SET
  ${assignments.join(',\n  ')}`;
}

/** The follower's change and its addition as common table expressions, after `transitions`. */
export function followerCtes(follower: TransitionFollower): string {
  const change = `${follower.name}_change`;
  return `${change} AS (${follower.change}),
${follower.name}_added AS (${additionSql(follower.adds, change)})`;
}
