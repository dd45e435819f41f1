/**
 * Each test file gets its own database, cloned from the migrated template (on Citus, on every node:
 * the coordinator's metadata and the workers' shards clone together).
 */
import { randomBytes } from 'node:crypto';
import { createClusterDatabase, describeCluster, dropClusterDatabase } from '../../src/db/ensureDatabase.js';
import { detectDialect } from '../../src/db/platform.js';
import { createPool, type Pool, type Queryable } from '../../src/db/pool.js';
import { FOLLOWERS } from '../../projections/registry.js';

export interface TestDatabase {
  readonly name: string;
  /** As the migrator (the schema's owner): migrations, rebuilds, and the tests' own setup and oracle. */
  readonly url: string;
  readonly pool: Pool;
  /** As bp_test_worker (in bet_projector_writer): what `projector` worker, append, lag… run as. */
  readonly workerUrl: string;
  readonly workerPool: Pool;
  /** As bp_test_reader (in bet_projector_reader): sees bets_view rows of app.tenant_id only. */
  readonly readerUrl: string;
  drop(): Promise<void>;
}

function urlFor(name: string, role?: 'TEST_WORKER' | 'TEST_READER'): string {
  const url = new URL(requiredEnv('DATABASE_URL'));
  url.pathname = `/${name}`;
  if (role) {
    url.username = requiredEnv(`${role}_ROLE`);
    url.password = requiredEnv(`${role}_PASSWORD`);
  }
  return url.toString();
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the integration tests run through jest's globalSetup`);
  return value;
}

/** The platform globalSetup found: a Citus coordinator with workers, or plain PostgreSQL. */
export function onCitus(): boolean {
  return requiredEnv('TEST_PLATFORM') === 'citus';
}

export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `bp_test_${randomBytes(5).toString('hex')}`;
  const settings = { databaseUrl: requiredEnv('DATABASE_URL') };
  const cluster = await describeCluster(settings);
  // Not migrated: an empty database of the platform (on Citus, with the extension and the workers).
  const template = options.migrated === false ? undefined : requiredEnv('TEST_TEMPLATE_DATABASE');
  await createClusterDatabase(settings, name, { cluster, ...(template !== undefined && { template }) });
  const url = urlFor(name);
  const workerUrl = urlFor(name, 'TEST_WORKER');
  const pool = createPool({ databaseUrl: url, dbPoolMax: 10 }, 'bet-projector:test');
  const workerPool = createPool({ databaseUrl: workerUrl, dbPoolMax: 10 }, 'bet-projector:test-worker');
  // As every command does at start: the statements' form follows the platform.
  await Promise.all([detectDialect(pool), detectDialect(workerPool)]);
  return {
    name,
    url,
    pool,
    workerUrl,
    workerPool,
    readerUrl: urlFor(name, 'TEST_READER'),
    async drop() {
      await Promise.all([pool.end(), workerPool.end()]);
      await dropClusterDatabase(settings, name, cluster);
    },
  };
}

/** Empties the event log and every read model (bets_view and each registered follower). */
export async function truncateReadModels(db: Queryable): Promise<void> {
  await db.query(`TRUNCATE bet_events, bets_view, ${FOLLOWERS.map((f) => f.name).join(', ')}`);
}
