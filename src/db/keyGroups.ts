/**
 * How a read by keys is split on Citus (Dialect.readByKeys): its keys in groups, one statement each.
 * Pure.
 */

/**
 * The order a read's statements go in, so the same keys make the same statements: numbers (and
 * numeric text, as a bigint may come) by value, anything else by its text.
 */
function compareKeyValues(a: unknown, b: unknown): number {
  const [x, y] = [Number(a), Number(b)];
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  const [s, t] = [String(a), String(b)];
  return s < t ? -1 : s > t ? 1 : 0;
}

/** A key as one string, for a set of the keys asked for. */
export function keyOfValues(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join('\u0000');
}

/**
 * The keys in groups that one statement each reads: the keys of each shard where `shardOf` knows
 * it, else of each tenant (a tenant given as 5 and as '5' is one tenant), ordered by their smallest
 * first key. The rows of different groups come in no promised order: a caller that needs one across
 * bets sorts them; each bet's rows are in one statement, so in its ORDER BY.
 */
export function groupsOfKeys(
  keys: ReadonlyArray<readonly unknown[]>,
  shardOf: ((first: unknown) => string | undefined) | undefined,
): Array<Array<readonly unknown[]>> {
  const groups = new Map<string, Array<readonly unknown[]>>();
  // Each tenant's shard looked up once, not once per key: a flush's keys are many bets of few tenants.
  const labels = new Map<string, string>();
  const labelOf = (tenant: unknown) => {
    const shard = shardOf?.(tenant);
    return shard === undefined ? `tenant ${String(tenant)}` : `shard ${shard}`;
  };
  for (const key of keys) {
    const tenant = String(key[0]);
    let label = labels.get(tenant);
    if (label === undefined) labels.set(tenant, (label = labelOf(key[0])));
    const group = groups.get(label);
    if (group) group.push(key);
    else groups.set(label, [key]);
  }
  const smallest = (group: ReadonlyArray<readonly unknown[]>) =>
    group.reduce((a, k) => (compareKeyValues(k[0], a) < 0 ? k[0] : a), group[0]![0]);
  return [...groups.values()]
    .map((group) => ({ group, first: smallest(group) }))
    .sort((a, b) => compareKeyValues(a.first, b.first))
    .map(({ group }) => group);
}
