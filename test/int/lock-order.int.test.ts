/**
 * Two writers of bets_view that share rows lock them in one order, so neither waits on the other in
 * a circle. The scene, made deterministic with a third transaction holding one row: the first
 * writer (rows A, B, C) takes A and waits for B; the second (given C, A) then starts. In the order
 * it was given, it would take C and wait for A — and once B is free, the first would wait for C: a
 * deadlock (40P01), which is what CI's cluster run met between a flush and the sweep's re-fold.
 * In key order the second waits for A holding nothing, and both commit.
 */
import { detectDialect } from '../../src/db/platform.js';
import { createPool, type Pool, type PoolClient } from '../../src/db/pool.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { groupByBet } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import type { BetRow } from '../../projections/bets/row.js';
import { writeBetRows } from '../../projections/bets/statements.js';
import { FOLLOWERS } from '../../projections/registry.js';
import { createTestDatabase, onCitus, type TestDatabase } from '../support/db.js';
import { waitFor } from '../support/oracle.js';

const APPLICATION = 'bet-projector:test-lock-order';

describe('writers of bets_view sharing rows', () => {
  let db: TestDatabase;
  let pool: Pool;
  let rows: BetRow[];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ databaseUrl: db.workerUrl, dbPoolMax: 4 }, APPLICATION);
    await detectDialect(pool);
    // Three bets of one tenant at version 1, named A < B < C by (tenant_id, bet_id).
    const placements = [
      ...simulateEvents({ seed: 77_000, events: 60, tenants: 1, openBets: 20, now: () => 1_790_000_000_000 }),
    ].filter((e) => e.version === 1);
    rows = [...groupByBet(placements).values()]
      .map((events) => foldBet(events)!)
      .sort((a, b) => (a.betId < b.betId ? -1 : 1))
      .slice(0, 3);
    expect(rows.map((r) => r.tenantId)).toEqual([rows[0]!.tenantId, rows[0]!.tenantId, rows[0]!.tenantId]);
    const client = await pool.connect();
    await writeBetRows(client, rows, FOLLOWERS).finally(() => client.release());
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  /**
   * Clients of this test waiting for a row lock: on Citus the wait is on the worker node that holds
   * the tenant's shard, which Citus's lock wait view reports for the whole cluster.
   */
  async function waiting(): Promise<number> {
    const { rows: r } = await pool.query<{ n: number }>(
      onCitus()
        ? 'SELECT count(DISTINCT waiting_gpid)::int AS n FROM citus_lock_waits'
        : `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      onCitus() ? [] : [APPLICATION],
    );
    return r[0]!.n;
  }

  async function begin(): Promise<PoolClient> {
    const client = await pool.connect();
    await client.query('BEGIN');
    return client;
  }

  it('never deadlock, whatever order each was given its rows in', async () => {
    const [a, b, c] = rows as [BetRow, BetRow, BetRow];
    const at = (row: BetRow, version: number): BetRow => ({ ...row, version });
    const holder = await begin();
    const first = await begin();
    const second = await begin();
    try {
      await holder.query('SELECT 1 FROM bets_view WHERE tenant_id = $1 AND bet_id = $2 FOR UPDATE', [
        b.tenantId,
        b.betId,
      ]);
      const firstWrite = writeBetRows(first, [at(a, 2), at(b, 2), at(c, 2)], FOLLOWERS).then(() =>
        first.query('COMMIT'),
      );
      await waitFor('the first writer to wait for B', async () => (await waiting()) === 1, 10_000);
      const secondWrite = writeBetRows(second, [at(c, 3), at(a, 3)], FOLLOWERS).then(() =>
        second.query('COMMIT'),
      );
      await waitFor('the second writer to wait too', async () => (await waiting()) === 2, 10_000);
      await holder.query('COMMIT');
      const outcomes = await Promise.allSettled([firstWrite, secondWrite]);
      expect(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : 'ok')),
      ).toEqual(['ok', 'ok']);
      const { rows: versions } = await pool.query<{ bet_id: string; version: string }>(
        'SELECT bet_id, version FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id',
        [a.tenantId],
      );
      expect(versions.map((v) => [v.bet_id, Number(v.version)])).toEqual([
        [a.betId, 3],
        [b.betId, 2],
        [c.betId, 3],
      ]);
    } finally {
      for (const client of [holder, first, second]) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
      }
    }
  });
});
