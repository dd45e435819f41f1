// @ts-check
/**
 * Once per test run: find the services, and build a migrated template database that every test
 * file clones (CREATE DATABASE ... TEMPLATE), so each file gets its own database in milliseconds.
 * Uses the built migration runner (dist/), since Jest loads this file outside its TS transform;
 * `npm test` builds first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

  // Every process a test starts writes its output here; globalTeardown asserts no secret is in it.
  process.env['TEST_LOG_DIR'] = mkdtempSync(path.join(tmpdir(), 'bp-test-logs-'));

  const admin = new pg.Client({ connectionString: services.databaseUrl });
  await admin.connect();
  try {
    await buildTemplate(admin, services.databaseUrl, template, migrations);
    await createLoginRoles(admin);
  } finally {
    await admin.end();
  }
}

/**
 * The login roles the tests run `projector` with: a worker in bet_projector_writer and a reader in
 * bet_projector_reader (migration 006 creates the groups). Fresh passwords each run, so a password
 * found in a log can only have come from this run.
 * @param {pg.Client} admin
 */
async function createLoginRoles(admin) {
  /** @type {Array<[string, string, string]>} */
  const roles = [
    ['TEST_WORKER', 'bp_test_worker', 'bet_projector_writer'],
    ['TEST_READER', 'bp_test_reader', 'bet_projector_reader'],
  ];
  for (const [prefix, role, group] of roles) {
    const password = `pw-${randomBytes(12).toString('base64url')}`;
    await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF;
    END $$`);
    await admin.query(`ALTER ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.query(`GRANT ${group} TO ${role}`);
    process.env[`${prefix}_ROLE`] = role;
    process.env[`${prefix}_PASSWORD`] = password;
  }
}

/**
 * @param {pg.Client} admin
 * @param {string} databaseUrl
 * @param {string} template
 * @param {import('../../dist/src/db/migrate.js').Migration[]} migrations
 */
async function buildTemplate(admin, databaseUrl, template, migrations) {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
  if (rowCount) return;
  const building = `${template}_building_${process.pid}`;
  await admin.query(`CREATE DATABASE ${building}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${building}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool, migrations);
  } finally {
    await pool.end();
  }
  // Renamed only when complete, so a run killed half-way never leaves a half-migrated template.
  await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
}
