// @ts-check
/**
 * Once per test run: find the services, and build a migrated template database that every test
 * file clones (CREATE DATABASE ... TEMPLATE), so each file gets its own database in milliseconds.
 * Uses the built migration runner (dist/), since Jest loads this file outside its TS transform;
 * `npm test` builds first.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { loadMigrations, migrate } from '../../dist/src/db/migrate.js';
import { resolveServices } from './services.js';

export default async function globalSetup() {
  const services = await resolveServices();
  process.env['DATABASE_URL'] = services.databaseUrl;
  process.env['KAFKA_BROKERS'] = services.kafkaBrokers;
  /** @type {any} */ (globalThis).__services = services;

  const migrations = await loadMigrations();
  const digest = createHash('sha256')
    .update(migrations.map((m) => m.checksum).join())
    .digest('hex')
    .slice(0, 12);
  const template = `bp_template_${digest}`;
  process.env['TEST_TEMPLATE_DATABASE'] = template;

  const admin = new pg.Client({ connectionString: services.databaseUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (rowCount) return;
    const building = `${template}_building_${process.pid}`;
    await admin.query(`CREATE DATABASE ${building}`);
    const url = new URL(services.databaseUrl);
    url.pathname = `/${building}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    try {
      await migrate(pool, migrations);
    } finally {
      await pool.end();
    }
    // Renamed only when complete, so a run killed half-way never leaves a half-migrated template.
    await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
  } finally {
    await admin.end();
  }
}
