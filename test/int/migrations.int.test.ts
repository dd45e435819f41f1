import { loadMigrations, migrate, type Migration } from '../../src/db/migrate.js';
import { PREVIOUS_COLUMNS, ROW_COLUMNS, WRITTEN_AT } from '../../projections/bets/columns.js';
import { createPool } from '../../src/db/pool.js';
import { FOLLOWERS } from '../../projections/registry.js';
import { createTestDatabase, onCitus, type TestDatabase } from '../support/db.js';

describe(`migrations on real ${process.env['TEST_PLATFORM'] === 'citus' ? 'Citus' : 'PostgreSQL'}`, () => {
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

  it("the row declared once (projections/bets/columns.ts) is bets_view's columns as the migrations make them", async () => {
    await migrate(db.pool);
    const { rows } = await db.pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'bets_view' ORDER BY ordinal_position`,
    );
    const declared = [
      ...ROW_COLUMNS.map((c) => c.name),
      WRITTEN_AT.name,
      ...PREVIOUS_COLUMNS.map((c) => c.name),
    ];
    expect(rows.map((r) => r.column_name).sort()).toEqual([...declared].sort());
    // Each fold column is bound as its column's type, or converted by its declared write.
    const types = new Map(rows.map((r) => [r.column_name, r.data_type]));
    for (const c of ROW_COLUMNS) {
      const stored = types.get(c.name)!;
      if (c.write)
        expect({ column: c.name, stored }).toEqual({ column: c.name, stored: 'timestamp with time zone' });
      else
        expect({ column: c.name, stored }).toEqual({
          column: c.name,
          stored: c.bound,
        });
    }
  });

  it('bets_view_staged holds the row as the UPSERT binds it (each column of columns.ts at its bound type), a batch id and an ordinal', async () => {
    await migrate(db.pool);
    const { rows } = await db.pool.query<{ column_name: string; type: string }>(
      `SELECT attname AS column_name, format_type(atttypid, atttypmod) AS type
       FROM pg_attribute WHERE attrelid = 'bets_view_staged'::regclass AND attnum > 0 AND NOT attisdropped`,
    );
    expect(new Map(rows.map((r) => [r.column_name, r.type]))).toEqual(
      new Map([
        ['batch_id', 'uuid'],
        ['ordinal', 'bigint'],
        ...ROW_COLUMNS.map((c): [string, string] => [c.name, c.bound]),
      ]),
    );
    // Logged: Citus's online shard move publishes it with bets_view's colocated shards.
    const { rows: persistence } = await db.pool.query<{ p: string }>(
      `SELECT relpersistence AS p FROM pg_class WHERE oid = 'bets_view_staged'::regclass`,
    );
    expect(persistence[0]!.p).toBe('p');
  });

  it("each follower's staging table holds its addition as it is bound: its key, its sums, a batch id and an ordinal", async () => {
    await migrate(db.pool);
    const staged = FOLLOWERS.filter((f) => f.adds.staged !== undefined);
    expect(staged.map((f) => f.name)).toContain('user_exposure');
    for (const follower of staged) {
      const table = follower.adds.staged!;
      const { rows } = await db.pool.query<{ column_name: string; type: string }>(
        `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
        [table],
      );
      expect({ table, columns: new Map(rows.map((r) => [r.column_name, r.type])) }).toEqual({
        table,
        columns: new Map([
          ['batch_id', 'uuid'],
          ['ordinal', 'bigint'],
          ...[...follower.adds.key, ...follower.adds.sums].map((c): [string, string] => [c.name, c.bound]),
        ]),
      });
    }
  });

  it('creates the five tables with tenant_id in every unique key, and no triggers', async () => {
    const { rows: tables } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        'bet_events',
        'bets_view',
        'dead_letters',
        'projection_checkpoints',
        'user_exposure',
      ]),
    );
    const { rows: keys } = await db.pool.query<{ table: string; def: string }>(
      `SELECT conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE contype IN ('p', 'u')
         AND conrelid::regclass::text IN ('bet_events', 'bets_view', 'user_exposure')`,
    );
    expect(keys.length).toBe(4);
    for (const key of keys) expect(key.def).toMatch(/^(PRIMARY KEY|UNIQUE) \(tenant_id,/);
    // Citus keeps triggers of its own on its catalog tables; none may be on the project's.
    const { rows: triggers } = await db.pool.query(
      `SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE NOT t.tgisinternal AND n.nspname = 'public'`,
    );
    expect(triggers).toEqual([]);
  });

  it('on Citus, distributes the tenant tables by tenant_id in one colocation group, the checkpoints on the coordinator', async () => {
    if (!onCitus()) {
      // On plain PostgreSQL migration 004 does nothing: there is no Citus catalog to ask.
      const { rows } = await db.pool.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
      expect(rows).toEqual([]);
      return;
    }
    const { rows } = await db.pool.query<{
      table: string;
      method: string;
      column: string | null;
      group: number;
    }>(
      `SELECT logicalrelid::text AS table, partmethod AS method,
              CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END AS column,
              colocationid AS group
       FROM pg_dist_partition WHERE logicalrelid::text NOT LIKE 'pg_%' ORDER BY 1`,
    );
    const byTable = new Map(rows.map((r) => [r.table, r]));
    expect(byTable.get('bet_events')).toMatchObject({ method: 'h', column: 'tenant_id' });
    expect(byTable.get('bets_view')).toMatchObject({ method: 'h', column: 'tenant_id' });
    expect(byTable.get('bets_view')!.group).toBe(byTable.get('bet_events')!.group);
    expect(byTable.get('user_exposure')).toMatchObject({ method: 'h', column: 'tenant_id' });
    expect(byTable.get('user_exposure')!.group).toBe(byTable.get('bet_events')!.group);
    // Checkpoints live on the coordinator (migration 009), dead letters on every node.
    expect(byTable.get('projection_checkpoints')).toBeUndefined();
    expect(byTable.get('dead_letters')).toMatchObject({ method: 'n' });
    // Roles, grants and row-level security reached the workers' shards.
    for (const table of ['bets_view', 'user_exposure']) {
      const { rows: shards } = await db.pool.query<{ result: string }>(
        `SELECT result FROM run_command_on_shards($1,
           $$SELECT relrowsecurity || ' ' || has_table_privilege('bet_projector_writer', '%1$s', 'INSERT')
                    || ' ' || (SELECT count(*) FROM pg_policy WHERE polrelid = '%1$s'::regclass)
             FROM pg_class WHERE oid = '%1$s'::regclass$$)`,
        [table],
      );
      expect(shards.length).toBeGreaterThan(1);
      for (const shard of shards) expect(shard.result).toBe('true true 2');
    }
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
