import { loadMigrations, migrate, type Migration } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('migrations on real PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => db.drop());

  it('apply once from two processes at once, record each migration, and run again as a no-op', async () => {
    const other = createPool({ databaseUrl: db.url, dbPoolMax: 2 }, 'bet-projector:test-migrate-2');
    try {
      const [a, b] = await Promise.all([migrate(db.pool), migrate(other)]);
      const all = await loadMigrations();
      expect(a.applied.length + b.applied.length).toBe(all.length);
      expect([a.applied.length, b.applied.length]).toContain(0);
    } finally {
      await other.end();
    }
    const again = await migrate(db.pool);
    expect(again.applied).toEqual([]);
    const { rows } = await db.pool.query<{ name: string }>(
      'SELECT name FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.name)).toEqual((await loadMigrations()).map((m) => m.name));
  });

  it('creates the four tables with tenant_id in every unique key, and no triggers', async () => {
    const { rows: tables } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['bet_events', 'bets_view', 'dead_letters', 'projection_checkpoints']),
    );
    const { rows: keys } = await db.pool.query<{ table: string; def: string }>(
      `SELECT conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid::regclass::text IN ('bet_events', 'bets_view')`,
    );
    expect(keys.length).toBe(3);
    for (const key of keys) expect(key.def).toMatch(/^(PRIMARY KEY|UNIQUE) \(tenant_id,/);
    const { rows: triggers } = await db.pool.query('SELECT tgname FROM pg_trigger WHERE NOT tgisinternal');
    expect(triggers).toEqual([]);
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const edited: Migration[] = (await loadMigrations()).map((m, i) =>
      i === 0 ? { ...m, checksum: 'edited' } : m,
    );
    await expect(migrate(db.pool, edited)).rejects.toThrow(
      'migration 001_bet_events.sql was changed after it was applied',
    );
  });
});
