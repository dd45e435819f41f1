/**
 * Creating and dropping whole databases, on plain PostgreSQL and on a Citus cluster. Citus does not
 * propagate CREATE DATABASE: a database is a database of the cluster only when it exists on the
 * coordinator and on every worker, each with the citus extension, and the coordinator's copy of
 * the metadata lists the workers. The cluster's nodes are read from the `postgres` database of the
 * configured server (where `scripts/citus.sh` and Citus's packages register them).
 */
import pg from 'pg';
import { connectionOptions, withDatabase, type DatabaseSettings } from './connection.js';
import { hasCitusExtension } from './platform.js';

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface Cluster {
  /** The configured server: the coordinator on Citus. */
  readonly coordinator: NodeAddress;
  /** Citus worker nodes; empty on plain PostgreSQL. */
  readonly workers: readonly NodeAddress[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function databaseName(settings: DatabaseSettings): string {
  return decodeURIComponent(new URL(settings.databaseUrl).pathname.slice(1));
}

async function withClient<T>(
  settings: DatabaseSettings,
  database: string,
  node: NodeAddress | undefined,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const options = connectionOptions(withDatabase(settings, database));
  const client = new pg.Client(node ? { ...options, host: node.host, port: node.port } : options);
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Citus's NOTICE that it does not propagate CREATE DATABASE is what this module is for.
    await client.query(`SET client_min_messages TO warning`);
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The configured server and, where it is a Citus coordinator, its active worker nodes. */
export async function describeCluster(settings: DatabaseSettings): Promise<Cluster> {
  const parsed = new URL(settings.databaseUrl);
  const coordinator = { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 5432) };
  const workers = await withClient(settings, 'postgres', undefined, async (client) => {
    if (!(await hasCitusExtension(client))) return [];
    const { rows } = await client.query<{ host: string; port: number }>(
      `SELECT nodename AS host, nodeport AS port FROM pg_dist_node
       WHERE groupid <> 0 AND noderole = 'primary' AND isactive ORDER BY nodeport, nodename`,
    );
    return rows;
  });
  return { coordinator, workers };
}

async function exists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/**
 * Creates a database on every node of the cluster if it is missing there. From `template`, the
 * copy on each node is taken from that node's copy of the template (a cluster's template: its
 * metadata and shards clone together). Otherwise, on Citus, the extension is created on every
 * node and the workers are registered with the coordinator.
 */
export async function createClusterDatabase(
  settings: DatabaseSettings,
  name: string,
  options: { template?: string; cluster?: Cluster } = {},
): Promise<void> {
  const cluster = options.cluster ?? (await describeCluster(settings));
  const from = options.template === undefined ? '' : ` TEMPLATE ${pg.escapeIdentifier(options.template)}`;
  for (const node of [undefined, ...cluster.workers]) {
    await withClient(settings, 'postgres', node, async (client) => {
      if (!(await exists(client, name)))
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
    });
  }
  if (cluster.workers.length === 0 || options.template !== undefined) return;
  for (const node of cluster.workers) {
    await withClient(settings, name, node, (c) => c.query('CREATE EXTENSION IF NOT EXISTS citus'));
  }
  await withClient(settings, name, undefined, async (client) => {
    await client.query('CREATE EXTENSION IF NOT EXISTS citus');
    await client.query('SELECT citus_set_coordinator_host($1, $2)', [
      cluster.coordinator.host,
      cluster.coordinator.port,
    ]);
    for (const node of cluster.workers) {
      const { rowCount } = await client.query(
        'SELECT 1 FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2',
        [node.host, node.port],
      );
      if (!rowCount) await client.query('SELECT citus_add_node($1, $2)', [node.host, node.port]);
    }
  });
}

/** Creates the configured database if it does not exist: on every node when the server is a Citus coordinator. */
export async function ensureDatabase(settings: DatabaseSettings): Promise<void> {
  await createClusterDatabase(settings, databaseName(settings));
}

/**
 * Drops a database on every node of the cluster, closing its connections. On Citus a distributed
 * transaction cut off in its two-phase commit can leave a prepared transaction behind, which
 * PostgreSQL refuses to drop a database under: those of this database are rolled back first.
 */
export async function dropClusterDatabase(
  settings: DatabaseSettings,
  name: string,
  cluster?: Cluster,
): Promise<void> {
  const nodes = cluster ?? (await describeCluster(settings));
  for (const node of [undefined, ...nodes.workers]) {
    const prepared = await withClient(settings, 'postgres', node, async (c) => {
      const { rows } = await c.query<{ gid: string }>(
        'SELECT gid FROM pg_prepared_xacts WHERE database = $1',
        [name],
      );
      return rows.map((r) => r.gid);
    });
    if (prepared.length > 0) {
      // ROLLBACK PREPARED runs in the transaction's own database; the gids come from the catalog.
      await withClient(settings, name, node, async (c) => {
        for (const gid of prepared) await c.query(`ROLLBACK PREPARED ${pg.escapeLiteral(gid)}`);
      });
    }
    await withClient(settings, 'postgres', node, (c) => dropRefusingConnections(c, name, node));
  }
}

/** How often, and how far apart, a DROP that found the database still in use is tried again. */
const DROP_ATTEMPTS = 5;
const DROP_RETRY_MS = 500;

/**
 * DROP … WITH (FORCE) ends the database's sessions, then waits for them to be gone; a session that
 * opens meanwhile fails it ("being accessed by other users"). On Citus, a node's maintenance daemon
 * for the database is restarted by the next backend there, and the coordinator's cached
 * connections reach the workers. So new connections are refused first (a Citus background worker
 * honours that too), and a DROP that still finds company is tried again; the last failure names
 * the node and who was connected.
 */
async function dropRefusingConnections(
  client: pg.Client,
  name: string,
  node: NodeAddress | undefined,
): Promise<void> {
  const database = pg.escapeIdentifier(name);
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (!rowCount) return;
  await client.query(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS false`);
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006' || attempt >= DROP_ATTEMPTS) {
        const { rows } = await client.query<{ who: string }>(
          `SELECT coalesce(nullif(application_name, ''), backend_type) || ' (pid ' || pid || ')' AS who
             FROM pg_stat_activity WHERE datname = $1`,
          [name],
        );
        const where = node ? `${node.host}:${node.port}` : 'the configured server';
        const holders = rows.map((r) => r.who).join(', ') || 'nobody now';
        throw new Error(
          `DROP DATABASE ${name} on ${where} failed after ${attempt} attempt(s): ${(error as Error).message}; connected: ${holders}`,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, DROP_RETRY_MS));
    }
  }
}

/**
 * Makes a database a template on every node: PostgreSQL copies a database only while nobody is
 * connected to it, and on Citus the maintenance daemon and the nodes' cached connections always
 * are. Connections are refused from now on, and the open ones ended.
 */
export async function freezeTemplate(
  settings: DatabaseSettings,
  name: string,
  options: { renameTo?: string; cluster?: Cluster } = {},
): Promise<void> {
  for (const n of [name, options.renameTo ?? name]) {
    if (!IDENTIFIER.test(n)) throw new Error(`template name "${n}" must match ${String(IDENTIFIER)}`);
  }
  const nodes = options.cluster ?? (await describeCluster(settings));
  for (const node of [undefined, ...nodes.workers]) {
    await withClient(settings, 'postgres', node, async (client) => {
      await client.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
      await client.query(
        'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      if (options.renameTo !== undefined)
        await client.query(`ALTER DATABASE ${name} RENAME TO ${options.renameTo}`);
    });
  }
}
