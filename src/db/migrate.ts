/**
 * Applies migrations/NNN_name.sql in order, each in its own transaction, one statement per query
 * (Citus forwards DDL on a distributed table to the shards with its whole query string and refuses
 * several commands in one), recording them in schema_migrations. An advisory lock makes two processes at once (two pods starting, a Helm hook
 * and a developer) safe: the second waits, then finds nothing left to do. A migration that was
 * edited after it was applied is refused, because the database no longer matches the file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Pool, PoolClient } from './pool.js';
import type { Dialect } from './dialect.js';
import { detectDialect } from './platform.js';
import { splitStatements } from './sqlStatements.js';

/** Any stable number works; this one spells "betp". */
const MIGRATION_LOCK_ID = 0x62657470;

/**
 * How long a migration waits for a table lock before it fails (and the migrate Job retries): while
 * it waits for ACCESS EXCLUSIVE behind a long reader (a rebuild's fill, a wide lag report), every
 * append and flush would queue behind it.
 */
const MIGRATION_LOCK_TIMEOUT = '10s';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
  /** The file's statements, each sent as its own query. */
  readonly statements: readonly string[];
}

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export async function loadMigrations(dir: string = resolveMigrationsDir()): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d{3,})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`migration file "${file}" is not named NNN_name.sql`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MigrationError(`migration number ${match[1]} is used twice`);
    }
    let statements: string[];
    try {
      statements = splitStatements(sql);
    } catch (error) {
      throw new MigrationError(`migration ${file}: ${(error as Error).message}`);
    }
    migrations.push({
      version,
      name: file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      statements,
    });
  }
  return migrations;
}

/** The migrations folder, whether this module runs from src/ (tests) or dist/src/ (built). */
function resolveMigrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../migrations'), path.resolve(here, '../../../migrations')];
  const found = candidates.find((dir) => existsSync(path.join(dir, '001_bet_events.sql')));
  if (!found) throw new MigrationError(`no migrations folder found (looked in ${candidates.join(', ')})`);
  return found;
}

export async function migrate(pool: Pool, migrations?: readonly Migration[]): Promise<MigrationResult> {
  const all = migrations ?? (await loadMigrations());
  const dialect = await detectDialect(pool);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version     integer     PRIMARY KEY,
          name        text        NOT NULL,
          checksum    text        NOT NULL,
          applied_at  timestamptz NOT NULL DEFAULT now()
        )`);
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      );
      const done = new Map(rows.map((r) => [r.version, r]));
      const applied: string[] = [];
      for (const migration of all) {
        const previous = done.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new MigrationError(
              `migration ${migration.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        try {
          await client.query('BEGIN');
          await applyStatements(client, migration, dialect);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
        applied.push(migration.name);
      }
      return { applied, alreadyApplied: all.length - applied.length };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    client.release();
  }
}

/**
 * On Citus, the migration's transaction runs its multi-shard commands over one connection per
 * node: a command Citus propagates that way (CREATE TYPE, CREATE FUNCTION) is refused after a
 * parallel multi-shard command in the same transaction ("cannot run type command because there
 * was a parallel operation on a distributed table"), and migrations are small, so nothing is lost.
 */
async function applyStatements(client: PoolClient, migration: Migration, dialect: Dialect): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`);
  for (const setting of dialect.migrationSettings) await client.query(setting);
  for (const [index, statement] of migration.statements.entries()) {
    try {
      await client.query(statement);
    } catch (error) {
      const head = statement.split('\n')[0]!.slice(0, 80);
      throw new Error(`statement ${index + 1} (${head}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
