/** Each test file gets its own database, cloned from the migrated template. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: Pool;
  drop(): Promise<void>;
}

function urlFor(name: string): string {
  const url = new URL(requiredEnv('DATABASE_URL'));
  url.pathname = `/${name}`;
  return url.toString();
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the integration tests run through jest's globalSetup`);
  return value;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: requiredEnv('DATABASE_URL') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `bp_test_${randomBytes(5).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : requiredEnv('TEST_TEMPLATE_DATABASE');
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = urlFor(name);
  const pool = createPool({ databaseUrl: url, dbPoolMax: 10 }, 'bet-projector:test');
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
