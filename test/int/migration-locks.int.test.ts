/**
 * Migrations apply while the previous release's workers run: from migration 012 on (those landed
 * earlier are not edited), none may rewrite bet_events or bets_view — a rewrite holds ACCESS
 * EXCLUSIVE for as long as it takes — nor scan them under that lock to validate a new constraint.
 * Shown on tables with rows: each table's files (every shard's, on Citus) are the same after the
 * migration, and each constraint it adds to them is NOT VALID.
 */
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, onCitus, type TestDatabase } from '../support/db.js';

/** Migrations before this one had landed when the rule was written down. */
const FIRST_CHECKED = 12;
const TABLES = ['bet_events', 'bets_view'];

describe('migrations from 012 on, on tables with rows', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => db.drop());

  /** The files a table's rows are in: its own, or on Citus each shard's. */
  async function files(table: string): Promise<string[]> {
    const { rows } = onCitus()
      ? await db.pool.query<{ file: string }>(
          `SELECT result AS file FROM run_command_on_shards($1, $$SELECT pg_relation_filenode('%s')$$)
            ORDER BY shardid`,
          [table],
        )
      : await db.pool.query<{ file: string }>('SELECT pg_relation_filenode($1::regclass)::text AS file', [
          table,
        ]);
    return rows.map((r) => r.file);
  }

  async function constraints(): Promise<Map<string, boolean>> {
    const { rows } = await db.pool.query<{ name: string; validated: boolean }>(
      `SELECT conrelid::regclass::text || '.' || conname AS name, convalidated AS validated
         FROM pg_constraint WHERE conrelid = ANY($1::regclass[])`,
      [TABLES],
    );
    return new Map(rows.map((r) => [r.name, r.validated]));
  }

  it('rewrite neither bet_events nor bets_view, and validate no new constraint under their lock', async () => {
    const all = await loadMigrations();
    await migrate(
      db.pool,
      all.filter((m) => m.version < FIRST_CHECKED),
    );
    // The previous release's rows, in the previous release's schema: events appended, and view rows
    // written by hand (this release's UPSERT names columns that schema does not have yet).
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher });
    const events = [
      ...simulateEvents({ seed: 12, events: 2_000, tenants: 3, openBets: 50, now: () => 1_790_000_000_000 }),
    ];
    for (let i = 0; i < events.length; i += 200) await store.append(events.slice(i, i + 200));
    await db.pool.query(
      `INSERT INTO bets_view (tenant_id, bet_id, status, version, last_event_type, last_updated_timestamp)
       SELECT DISTINCT tenant_id, aggregate_id, 'placed', 1, 'V1_BET_PLACED', 0 FROM bet_events`,
    );
    const checked = all.filter((m) => m.version >= FIRST_CHECKED);
    expect(checked.length).toBeGreaterThan(0);
    for (const migration of checked) {
      const before = new Map(await Promise.all(TABLES.map(async (t) => [t, await files(t)] as const)));
      const constraintsBefore = await constraints();
      await migrate(
        db.pool,
        all.filter((m) => m.version <= migration.version),
      );
      for (const table of TABLES) {
        expect({ migration: migration.name, table, files: await files(table) }).toEqual({
          migration: migration.name,
          table,
          files: before.get(table),
        });
      }
      for (const [name, validated] of await constraints()) {
        if (!constraintsBefore.has(name)) {
          expect({ migration: migration.name, constraint: name, validated }).toEqual({
            migration: migration.name,
            constraint: name,
            validated: false,
          });
        }
      }
    }
  });
});
