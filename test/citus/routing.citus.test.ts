/**
 * On the cluster, every write a flush sends goes to the shards that hold its rows: none is planned
 * through the coordinator (Citus's "INSERT/SELECT method: pull to coordinator" computes the rows
 * there and pushes them to each shard in turn — a round trip per shard touched, inside the
 * transaction). Each statement the write sent is EXPLAINed on the cluster itself; so is verify's
 * comparison of one tenant, which must be a single task.
 */
import pg from 'pg';
import { detectDialect } from '../../src/db/platform.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { groupByBet } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import { writeBetRows } from '../../projections/bets/statements.js';
import { FOLLOWERS, reconciler } from '../../projections/registry.js';
import type { Queryable } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('the writes of a flush on the Citus cluster', () => {
  let db: TestDatabase;
  let pool: Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ databaseUrl: db.workerUrl, dbPoolMax: 2 }, 'bet-projector:test-routing');
    expect((await detectDialect(pool)).platform).toBe('citus');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('are routed to the shards: no statement pulls its rows through the coordinator', async () => {
    const events = [...simulateEvents({ seed: 61, events: 400, tenants: 8, openBets: 30, now: () => 1 })];
    const histories = [...groupByBet(events).values()];
    const sent: pg.QueryConfig[] = [];
    const client = await pool.connect();
    const query = client.query.bind(client) as (config: pg.QueryConfig) => Promise<pg.QueryResult>;
    (client as unknown as { query: typeof query }).query = (config: pg.QueryConfig) => {
      sent.push(config);
      return query(config);
    };
    try {
      // Placements, then the bets' last versions: opened and closed bets move every follower.
      await writeBetRows(
        client,
        histories.map((es) => foldBet(es.slice(0, 1))!),
        FOLLOWERS,
      );
      await writeBetRows(
        client,
        histories.map((es) => foldBet(es)!).filter((r) => r.version > 1),
        FOLLOWERS,
      );
    } finally {
      client.release();
    }
    const inserts = sent.filter((s) => /^\s*(WITH[\s\S]*\)\s*)?INSERT\b/i.test(s.text));
    // bets_view and each follower, twice.
    expect(inserts.length).toBeGreaterThanOrEqual(2 * (1 + FOLLOWERS.length));
    for (const name of ['bets_view', ...FOLLOWERS.map((f) => f.name)])
      expect(inserts.some((s) => s.text.includes(`INSERT INTO ${name}`))).toBe(true);
    for (const statement of inserts) {
      const plan = await db.pool.query<{ 'QUERY PLAN': string }>({
        text: `EXPLAIN (COSTS OFF) ${statement.text}`,
        values: statement.values ?? [],
      });
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      // The statement goes with its plan, so a failure names it.
      expect(`${statement.text.slice(0, 80)}\n${text}`).not.toContain('INSERT/SELECT method');
    }
  });
  it("verify's comparison of one tenant runs on that tenant's shard alone", async () => {
    const events = [...simulateEvents({ seed: 62, events: 200, tenants: 3, openBets: 20, now: () => 1 })];
    await writeBetRows(
      db.pool,
      [...groupByBet(events).values()].map((es) => foldBet(es)!),
    );
    const sent: pg.QueryConfig[] = [];
    const spy = {
      query: (config: pg.QueryConfig) => {
        sent.push(config);
        return db.pool.query(config);
      },
    } as unknown as Queryable;
    await reconciler.differingBets(spy, { tenantIds: [events[0]!.tenantId], cutoffMs: 0 });
    expect(sent).toHaveLength(1);
    const plan = await db.pool.query<{ 'QUERY PLAN': string }>({
      text: `EXPLAIN (COSTS OFF) ${sent[0]!.text}`,
      values: sent[0]!.values ?? [],
    });
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Task Count: 1\b/);
  });
});
