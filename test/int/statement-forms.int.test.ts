/**
 * Both forms of every runtime statement that has two (PostgreSQL's unnest, Citus's VALUES lists and
 * array filters), run against the same real database and held to one contract. On plain PostgreSQL
 * the Citus forms are valid SQL of the same meaning, so the PostgreSQL suite checks them too; under
 * `npm run test:citus` both run on the cluster.
 */
import { STAGED_FROM_ROWS } from '../../src/db/dialect.js';
import { assumeDialect, type Platform } from '../../src/db/platform.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { betKey, type BetEvent } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { insertEvents, selectEventsOfBets, selectPositions } from '../../src/store/statements.js';
import { groupByBet } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import type { BetRow } from '../../projections/bets/row.js';
import { readBetRows, writeBetRows } from '../../projections/bets/statements.js';
import { FOLLOWERS } from '../../projections/registry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { normalizeDecimal } from '../support/oracle.js';
import { recordQueries } from '../support/recordQueries.js';

const FORMS: readonly Platform[] = ['postgres', 'citus'];

describe.each(FORMS)('the %s form of each statement', (form) => {
  let db: TestDatabase;
  let pool: Pool;
  // Each form writes its own tenants, so the two never see each other's rows.
  const tenantBase = form === 'postgres' ? 100 : 200;
  const events: BetEvent[] = [
    ...simulateEvents({ seed: 55_000, events: 600, tenants: 5, openBets: 40, now: () => 1_790_000_000_000 }),
  ].map((e) => ({ ...e, tenantId: e.tenantId + tenantBase }));
  const byBet = groupByBet(events);
  const bets = [...byBet.values()].map((es) => ({ tenantId: es[0]!.tenantId, betId: es[0]!.aggregateId }));

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ databaseUrl: db.workerUrl, dbPoolMax: 2 }, 'bet-projector:test-forms');
    assumeDialect(pool, form);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('insertEvents stores a batch once and names exactly the events it stored', async () => {
    const first = await insertEvents(pool, events.slice(0, 400));
    expect(first.map((r) => betKey(r.tenant_id, r.idempotency_key)).sort()).toEqual(
      events
        .slice(0, 400)
        .map((e) => betKey(e.tenantId, e.idempotencyKey))
        .sort(),
    );
    const again = await insertEvents(pool, events);
    expect(again.map((r) => r.idempotency_key).sort()).toEqual(
      events
        .slice(400)
        .map((e) => e.idempotencyKey)
        .sort(),
    );
    expect(await insertEvents(pool, events)).toEqual([]);
  });

  it('selectEventsOfBets returns exactly the asked bets, each in version order', async () => {
    const asked = bets.slice(0, 25);
    const read = groupByBet(await selectEventsOfBets(pool, asked));
    expect([...read.keys()].sort()).toEqual(asked.map((b) => betKey(b.tenantId, b.betId)).sort());
    for (const [key, stored] of read) expect(stored).toEqual(byBet.get(key));
  });

  it('selectPositions names the taken positions among those asked, and no others', async () => {
    const taken = events
      .slice(0, 30)
      .map((e) => ({ tenantId: e.tenantId, betId: e.aggregateId, version: e.version }));
    const free = taken.slice(0, 10).map((p) => ({ ...p, version: p.version + 1_000 }));
    const found = await selectPositions(pool, [...taken, ...free]);
    expect(found.map((f) => `${betKey(f.tenant_id, f.aggregate_id)}#${f.version}`).sort()).toEqual(
      taken.map((p) => `${betKey(p.tenantId, p.betId)}#${p.version}`).sort(),
    );
  });

  it('writeBetRows writes forward only and names the rows it wrote; readBetRows reads exactly those asked', async () => {
    const client = await pool.connect();
    try {
      const rows = [...byBet.values()].map((es) => foldBet(es)!);
      const early = [...byBet.values()].filter((es) => es.length > 1).map((es) => foldBet(es.slice(0, 1))!);
      expect((await writeBetRows(client, rows)).size).toBe(rows.length);
      // Older versions of written bets are refused by the version guard and not named.
      expect([...(await writeBetRows(client, early))]).toEqual([]);
      const asked = bets.slice(0, 30);
      const read = await readBetRows(client, [...asked, { tenantId: tenantBase + 99, betId: 'nobody' }]);
      const expected = new Map<string, BetRow>(
        asked.map((b) => [
          betKey(b.tenantId, b.betId),
          rows.find((r) => r.tenantId === b.tenantId && r.betId === b.betId)!,
        ]),
      );
      expect([...read.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, row] of read) {
        const want = expected.get(key)!;
        // "12.5000" from NUMERIC and "12.50" from the event are the same amount.
        const exact = (r: BetRow) => ({
          ...r,
          amount: normalizeDecimal(r.amount),
          odds: normalizeDecimal(r.odds),
          payout: normalizeDecimal(r.payout),
        });
        expect(exact(row)).toEqual(exact(want));
      }
    } finally {
      client.release();
    }
  });

  it('writeBetRows hands the followers exactly the transitions it wrote (user_exposure = sum over open bets)', async () => {
    const client = await pool.connect();
    try {
      // Tenants of their own: the test above wrote rows without followers.
      const mine = (es: BetEvent[]) => es.map((e) => ({ ...e, tenantId: e.tenantId + 50 }));
      const histories = [...byBet.values()].map(mine);
      const first = histories.map((es) => foldBet(es.slice(0, 1))!);
      const last = histories.map((es) => foldBet(es)!);
      expect((await writeBetRows(client, first, FOLLOWERS)).size).toBe(first.length);
      expect(
        (
          await writeBetRows(
            client,
            last.filter((r) => r.version > 1),
            FOLLOWERS,
          )
        ).size,
      ).toBe(last.filter((r) => r.version > 1).length);
      // Refused (older than stored): no transition, no change.
      expect((await writeBetRows(client, first, FOLLOWERS)).size).toBe(0);
      const expected = new Map<string, number>();
      for (const r of last) {
        if (r.status !== 'placed' && r.status !== 'accepted') continue;
        const key = `${r.tenantId}:${r.userId}:${r.currency}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
      expect(expected.size).toBeGreaterThan(0);
      const { rows } = await client.query<{ key: string; open_bets: number }>(
        `SELECT tenant_id || ':' || user_id || ':' || currency AS key, open_bets::int AS open_bets
         FROM user_exposure WHERE tenant_id > $1 AND open_bets <> 0`,
        [tenantBase + 50],
      );
      expect(new Map(rows.map((r) => [r.key, r.open_bets]))).toEqual(expected);
    } finally {
      client.release();
    }
  });

  it('a batch of STAGED_FROM_ROWS rows or more is written to the same contract (on Citus through the staging tables, left empty)', async () => {
    const large = [
      ...simulateEvents({
        seed: 56_000,
        events: 2_400,
        tenants: 6,
        openBets: 600,
        now: () => 1_790_000_000_000,
      }),
    ].map((e) => ({ ...e, tenantId: e.tenantId + tenantBase + 70 }));
    const histories = [...groupByBet(large).values()];
    expect(histories.length).toBeGreaterThanOrEqual(STAGED_FROM_ROWS);
    const first = histories.map((es) => foldBet(es.slice(0, 1))!);
    const last = histories.map((es) => foldBet(es)!);
    const moved = last.filter((r) => r.version > 1);
    expect(moved.length).toBeGreaterThanOrEqual(STAGED_FROM_ROWS);
    const client = await pool.connect();
    const sent = recordQueries(client);
    const inTransaction = async <T>(work: () => Promise<T>): Promise<T> => {
      await client.query('BEGIN');
      try {
        const result = await work();
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    };
    try {
      const written = await inTransaction(() => writeBetRows(client, first, FOLLOWERS));
      expect([...written].sort()).toEqual(first.map((r) => betKey(r.tenantId, r.betId)).sort());
      const later = await inTransaction(() => writeBetRows(client, moved, FOLLOWERS));
      expect([...later].sort()).toEqual(moved.map((r) => betKey(r.tenantId, r.betId)).sort());
      // A replay of the placements: refused by the version guard, named nowhere, followers unmoved.
      expect((await inTransaction(() => writeBetRows(client, first, FOLLOWERS))).size).toBe(0);
    } finally {
      client.release();
    }
    expect(sent.some((s) => s.text.includes('bets_view_staged'))).toBe(form === 'citus');
    // The placements move as many users' exposure as they write bets: that addition is staged too.
    expect(sent.some((s) => s.text.includes('user_exposure_staged'))).toBe(form === 'citus');
    const { rows: stored } = await pool.query<{ key: string; version: number; status: string }>(
      `SELECT tenant_id || ':' || bet_id AS key, version, status FROM bets_view WHERE tenant_id > $1`,
      [tenantBase + 70],
    );
    expect(new Map(stored.map((r) => [r.key, `${r.version} ${r.status}`]))).toEqual(
      new Map(last.map((r) => [betKey(r.tenantId, r.betId), `${r.version} ${r.status}`])),
    );
    const open = new Map<string, number>();
    for (const r of last) {
      if (r.status !== 'placed' && r.status !== 'accepted') continue;
      const key = `${r.tenantId}:${r.userId}:${r.currency}`;
      open.set(key, (open.get(key) ?? 0) + 1);
    }
    const { rows: exposure } = await pool.query<{ key: string; open_bets: number }>(
      `SELECT tenant_id || ':' || user_id || ':' || currency AS key, open_bets::int AS open_bets
       FROM user_exposure WHERE tenant_id > $1 AND open_bets <> 0`,
      [tenantBase + 70],
    );
    expect(new Map(exposure.map((r) => [r.key, r.open_bets]))).toEqual(open);
    const { rows: staged } = await pool.query<{ n: number }>(
      'SELECT (SELECT count(*) FROM bets_view_staged) + (SELECT count(*) FROM user_exposure_staged) AS n',
    );
    expect(Number(staged[0]!.n)).toBe(0);
  });
});
