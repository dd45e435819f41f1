/**
 * Least privilege and tenant isolation, enforced by PostgreSQL (migration 006): the worker role
 * cannot rewrite history, and a reader sees its own tenant's bets only, however it asks.
 */
import pg from 'pg';
import { inlineProjection, rebuildReadModels as rebuildBetsView } from '../../projections/registry.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, onCitus, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';

const TENANT_A = 1;
const TENANT_B = 2;

/**
 * How many of its own tenant's rows a reader sees through app.tenant_id. On Citus the policy is
 * evaluated on the workers' shards, where the coordinator's session setting does not exist (and
 * citus.propagate_set_commands fails these queries on Citus 13.2.2 here): the reader sees nothing —
 * isolation holds, closed, and readers on Citus scope by tenant_id in their queries (docs/security.md).
 */
const ownRows = (n: number) => (onCitus() ? 0 : n);

describe('roles and row-level security', () => {
  let db: TestDatabase;
  let reader: pg.Pool;
  const count = async (tenant: number) =>
    (
      await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bets_view WHERE tenant_id = $1', [
        tenant,
      ])
    ).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase();
    reader = new pg.Pool({ connectionString: db.readerUrl, max: 2 });
    // Two tenants' bets, appended and projected by the worker role in immediate mode.
    const events = [
      ...simulateEvents({ seed: 7_001, events: 600, tenants: 2, openBets: 100, now: () => Date.now() }),
    ];
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    for (let i = 0; i < events.length; i += 50)
      await store.append(events.slice(i, i + 50), { projection: 'immediate' });
    expect(await count(TENANT_A)).toBeGreaterThan(0);
    expect(await count(TENANT_B)).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await reader.end();
    await db.drop();
  });

  /** Runs `sql` as the reader, with app.tenant_id set for this transaction only (as a pooled API would). */
  async function asReader<T extends pg.QueryResultRow>(
    tenant: string | undefined,
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const client = await reader.connect();
    try {
      await client.query('BEGIN');
      if (tenant !== undefined) await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant]);
      const { rows } = await client.query<T>(sql, params);
      await client.query('COMMIT');
      return rows;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  it.each([
    ['UPDATE', `UPDATE bet_events SET event_data = '{}' WHERE tenant_id = ${TENANT_A}`],
    ['DELETE', `DELETE FROM bet_events WHERE tenant_id = ${TENANT_A}`],
    ['TRUNCATE', 'TRUNCATE bet_events'],
  ])('the worker role may not %s bet_events: the log is append-only by grant', async (_verb, sql) => {
    await expect(db.workerPool.query(sql)).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied for table bet_events',
    });
  });

  it("grants nothing to PUBLIC: a reader cannot run the fold's functions, the writers can", async () => {
    const { rows } = await db.pool.query<{ role: string; may: boolean }>(
      `SELECT r AS role, has_function_privilege(r, 'legs_combined_odds(jsonb)', 'EXECUTE') AS may
         FROM unnest(ARRAY['bet_projector_reader', 'bet_projector_writer']) AS r ORDER BY r`,
    );
    expect(rows).toEqual([
      { role: 'bet_projector_reader', may: false },
      { role: 'bet_projector_writer', may: true },
    ]);
  });

  it('the worker role may not change the schema or the migrations record', async () => {
    await expect(db.workerPool.query('DROP TABLE bets_view')).rejects.toMatchObject({ code: '42501' });
    await expect(db.workerPool.query('DELETE FROM schema_migrations')).rejects.toMatchObject({
      code: '42501',
    });
  });

  it('a reader with no tenant set sees nothing', async () => {
    expect(await asReader(undefined, 'SELECT count(*)::int AS n FROM bets_view')).toEqual([{ n: 0 }]);
    expect(await asReader('', 'SELECT count(*)::int AS n FROM bets_view')).toEqual([{ n: 0 }]);
  });

  it("a reader for tenant A sees and counts A's bets only, whatever it filters on", async () => {
    const a = String(TENANT_A);
    expect(await asReader(a, 'SELECT count(*)::int AS n FROM bets_view')).toEqual([
      { n: ownRows(await count(TENANT_A)) },
    ]);
    expect(await asReader(a, 'SELECT DISTINCT tenant_id FROM bets_view')).toEqual(
      onCitus() ? [] : [{ tenant_id: TENANT_A }],
    );
    expect(
      await asReader(a, 'SELECT count(*)::int AS n FROM bets_view WHERE tenant_id = $1', [TENANT_B]),
    ).toEqual([{ n: 0 }]);
    // Guessing: B's real bet ids, asked for by id, return nothing.
    const { rows: bBets } = await db.pool.query<{ bet_id: string }>(
      'SELECT bet_id FROM bets_view WHERE tenant_id = $1 LIMIT 20',
      [TENANT_B],
    );
    const guessed = await asReader(a, 'SELECT bet_id FROM bets_view WHERE bet_id = ANY($1)', [
      bBets.map((b) => b.bet_id),
    ]);
    expect(bBets.length).toBeGreaterThan(0);
    expect(guessed).toEqual([]);
  });

  it('a reader may not read the event log, nor write the view', async () => {
    await expect(asReader(String(TENANT_A), 'SELECT 1 FROM bet_events LIMIT 1')).rejects.toMatchObject({
      code: '42501',
    });
    await expect(
      asReader(String(TENANT_A), `UPDATE bets_view SET status = 'won' WHERE tenant_id = ${TENANT_A}`),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('a tenant setting that is not a tenant id is an error, not a wider view', async () => {
    await expect(asReader('1 OR true', 'SELECT count(*) FROM bets_view')).rejects.toMatchObject({
      code: '22P02',
    });
  });

  it('a rebuild swaps in a view with the same grants and isolation; the worker role still writes it', async () => {
    await rebuildBetsView(db.pool, { chunks: 2 });
    expect(await asReader(undefined, 'SELECT count(*)::int AS n FROM bets_view')).toEqual([{ n: 0 }]);
    expect(await asReader(String(TENANT_B), 'SELECT count(*)::int AS n FROM bets_view')).toEqual([
      { n: ownRows(await count(TENANT_B)) },
    ]);
    const more = [
      ...simulateEvents({ seed: 7_002, events: 200, tenants: 2, openBets: 50, now: () => Date.now() }),
    ];
    const store = createEventStore({
      pool: db.workerPool,
      publisher: noPublisher,
      inline: inlineProjection,
    });
    for (let i = 0; i < more.length; i += 50)
      await store.append(more.slice(i, i + 50), { projection: 'immediate' });
    expect(await viewMismatches(db.pool)).toEqual([]);
  });
});
