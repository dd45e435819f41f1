/**
 * Dropping a test database while something keeps connecting to it, as a Citus node's maintenance
 * daemon and the coordinator's cached connections do. A client reconnects as soon as it is cut
 * off; the drop still goes through on every node, and the client is turned away afterwards. (CI's
 * teardown once met "being accessed by other users" on Citus; that session's holder is not
 * reproduced here: the drop now tries again and, failing, names the node and who was connected.)
 */
import pg from 'pg';
import { describeCluster } from '../../src/db/ensureDatabase.js';
import { createTestDatabase, requiredEnv } from '../support/db.js';
import { waitFor } from '../support/oracle.js';

describe('dropping a database something keeps connecting to', () => {
  it('refuses the newcomers and drops it on every node', async () => {
    const db = await createTestDatabase({ migrated: false });
    let connections = 0;
    let stopped = false;
    const lastErrors: string[] = [];
    // Connects, holds the session in a long sleep, and reconnects at once when it is ended.
    const reconnecting = (async () => {
      while (!stopped) {
        const client = new pg.Client({ connectionString: db.url });
        client.on('error', () => undefined);
        try {
          await client.connect();
          connections++;
          await client.query('SELECT pg_sleep(30)');
        } catch (error) {
          lastErrors.push((error as Error).message);
        } finally {
          await client.end().catch(() => undefined);
        }
      }
    })();
    try {
      await waitFor('the first session', () => connections >= 1, 10_000, 10);
      await db.drop();
    } finally {
      stopped = true;
      await reconnecting;
    }

    expect(connections).toBeGreaterThanOrEqual(1);
    const settings = { databaseUrl: requiredEnv('DATABASE_URL') };
    const cluster = await describeCluster(settings);
    for (const node of [cluster.coordinator, ...cluster.workers]) {
      const url = new URL(requiredEnv('DATABASE_URL'));
      Object.assign(url, { hostname: node.host, port: String(node.port), pathname: '/postgres' });
      const admin = new pg.Client({ connectionString: url.toString() });
      await admin.connect();
      try {
        const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
        expect({ node: `${node.host}:${node.port}`, exists: rowCount === 1 }).toEqual({
          node: `${node.host}:${node.port}`,
          exists: false,
        });
      } finally {
        await admin.end();
      }
    }
    // The reconnecting client was turned away, not let in to a database being dropped.
    expect(lastErrors.at(-1)).toMatch(/does not exist|not currently accepting connections|terminat/);
  });
});
