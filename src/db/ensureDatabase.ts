import pg from 'pg';
import { connectionOptions, withDatabase, type DatabaseSettings } from './connection.js';

/** Creates the configured database if it does not exist (connecting to `postgres` as the same role). */
export async function ensureDatabase(settings: DatabaseSettings): Promise<void> {
  const name = decodeURIComponent(new URL(settings.databaseUrl).pathname.slice(1));
  const admin = new pg.Client(connectionOptions(withDatabase(settings, 'postgres')));
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}
