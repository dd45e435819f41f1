import type pg from 'pg';

/**
 * Records each query sent on `client` (its text and bound values) and passes it on: what a write
 * path sent, for a test to read or EXPLAIN. The array fills as queries are sent.
 */
export function recordQueries(client: pg.ClientBase): pg.QueryConfig[] {
  const sent: pg.QueryConfig[] = [];
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
    const [config, values] = args as [string | pg.QueryConfig, unknown];
    sent.push(
      typeof config === 'string' ? { text: config, values: Array.isArray(values) ? values : [] } : config,
    );
    return query(...args);
  };
  return sent;
}
