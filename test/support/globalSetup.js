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
import {
  createClusterDatabase,
  describeCluster,
  dropClusterDatabase,
  freezeTemplate,
} from '../../dist/src/db/ensureDatabase.js';
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

  // On a Citus coordinator every database (the template, each test file's clone) exists on every
  // node; TEST_PLATFORM tells the tests which platform they run on.
  const cluster = await describeCluster({ databaseUrl: services.databaseUrl });
  process.env['TEST_PLATFORM'] = cluster.workers.length > 0 ? 'citus' : 'postgres';
  const expected = process.env['TEST_EXPECT_PLATFORM'];
  if (expected && expected !== process.env['TEST_PLATFORM']) {
    throw new Error(
      `these tests are for ${expected}, but ${services.databaseUrl.replace(/:[^:@/]*@/, ':***@')} is ` +
        `${process.env['TEST_PLATFORM']}${expected === 'citus' ? ' (no citus extension with active workers in its postgres database)' : ''}`,
    );
  }
  await createLoginRoles(services.databaseUrl, cluster);
  await buildTemplate(services.databaseUrl, cluster, template, migrations);
}

/**
 * The login roles the tests run `projector` with: a worker in bet_projector_writer and a reader in
 * bet_projector_reader. Fresh passwords each run, so a password found in a log can only have come
 * from this run. Roles belong to a server, not a database: on Citus they are made on every node
 * (the coordinator connects to the workers as the same role), here before any migration, so the
 * groups are made too when a fresh cluster has none yet.
 * @param {string} databaseUrl
 * @param {import('../../dist/src/db/ensureDatabase.js').Cluster} cluster
 */
async function createLoginRoles(databaseUrl, cluster) {
  /** @type {Array<[string, string, string]>} */
  const roles = [
    ['TEST_WORKER', 'bp_test_worker', 'bet_projector_writer'],
    ['TEST_READER', 'bp_test_reader', 'bet_projector_reader'],
  ];
  const passwords = roles.map(() => `pw-${randomBytes(12).toString('base64url')}`);
  for (const node of [undefined, ...cluster.workers]) {
    const url = new URL(databaseUrl);
    url.pathname = '/postgres';
    if (node) {
      url.hostname = node.host;
      url.port = String(node.port);
    }
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    try {
      // Made node by node: Citus would otherwise propagate them too, and race with this loop.
      if (cluster.workers.length > 0) await admin.query('SET citus.enable_ddl_propagation TO off');
      for (const [index, [, role, group]] of roles.entries()) {
        await admin.query(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${group}') THEN CREATE ROLE ${group} NOLOGIN; END IF;
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF;
        END $$`);
        await admin.query(`ALTER ROLE ${role} LOGIN PASSWORD '${passwords[index]}'`);
        await admin.query(`GRANT ${group} TO ${role}`);
      }
    } finally {
      await admin.end();
    }
  }
  for (const [index, [prefix, role]] of roles.entries()) {
    process.env[`${prefix}_ROLE`] = role;
    process.env[`${prefix}_PASSWORD`] = passwords[index];
  }
}

/**
 * @param {string} databaseUrl
 * @param {import('../../dist/src/db/ensureDatabase.js').Cluster} cluster
 * @param {string} template
 * @param {import('../../dist/src/db/migrate.js').Migration[]} migrations
 */
async function buildTemplate(databaseUrl, cluster, template, migrations) {
  const settings = { databaseUrl };
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (rowCount) return;
  } finally {
    await admin.end();
  }
  const building = `${template}_building_${process.pid}`;
  await dropClusterDatabase(settings, building, cluster);
  await createClusterDatabase(settings, building, { cluster });
  const url = new URL(databaseUrl);
  url.pathname = `/${building}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool, migrations);
  } finally {
    await pool.end();
  }
  // Renamed only when complete, so a run killed half-way never leaves a half-migrated template.
  await freezeTemplate(settings, building, { renameTo: template, cluster });
}
