/**
 * `projector rebuild --tenant N` against real PostgreSQL (and Citus under test:citus): the named
 * tenant's rows become the fold of its events again — a changed row, a deleted row, a row without
 * events — in place, while appends of every tenant go on; another tenant's wrong row is left as it
 * was, byte for byte; the table is never swapped. The oracle is test/support/oracle.ts's own fold.
 */
import { inlineProjection, reconciler } from '../../projections/registry.js';
import type { BetEvent } from '../../src/events/types.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { viewMismatches } from '../support/oracle.js';
import { runProjector } from '../support/processes.js';

const T0 = 1_790_000_000_000;

describe('projector rebuild --tenant', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const stream = (seed: number, events: number): BetEvent[] => [
    ...simulateEvents({ seed, events, tenants: 3, openBets: 40, v2Share: 0.5, now: () => T0 }),
  ];
  beforeAll(async () => {
    db = await createTestDatabase();
    // The schema owner's, as the full rebuild: it deletes rows without events.
    env = { DATABASE_URL: db.url, KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'), PUBLISH_EVENTS: 'false' };
  });
  afterAll(async () => db.drop());

  const store = () =>
    createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
  const oneRow = async (sql: string, values: unknown[] = []) =>
    (await db.pool.query<{ tenant_id: number; bet_id: string }>(sql, values)).rows[0]!;
  const rowText = async (tenantId: number, betId: string) =>
    (
      await db.pool.query<{ row: string }>(
        'SELECT v::text AS row FROM bets_view v WHERE tenant_id = $1 AND bet_id = $2',
        [tenantId, betId],
      )
    ).rows[0]?.row;

  it("heals the named tenant in place while appends go on, deletes its rows without events, leaves the others' rows alone", async () => {
    const first = stream(61, 900);
    const s = store();
    for (let i = 0; i < first.length; i += 50)
      await s.append(first.slice(i, i + 50), { projection: 'immediate' });
    const [t1, t2] = [...new Set(first.map((e) => e.tenantId))].sort((a, b) => a - b) as [number, number];

    const changed = await oneRow(
      `UPDATE bets_view SET amount = amount + 1, status = 'won' WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1 OFFSET 1)
       RETURNING tenant_id, bet_id`,
      [t1],
    );
    const deleted = await oneRow(
      `DELETE FROM bets_view WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1 OFFSET 5)
       RETURNING tenant_id, bet_id`,
      [t1],
    );
    await db.pool.query(
      `INSERT INTO bets_view SELECT * FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1
       ON CONFLICT DO NOTHING`,
      [t1],
    );
    await db.pool.query(
      `UPDATE bets_view SET bet_id = 'ghost' WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id DESC LIMIT 1)`,
      [t1],
    );
    const other = await oneRow(
      `UPDATE bets_view SET amount = amount + 3 WHERE (tenant_id, bet_id) =
         (SELECT tenant_id, bet_id FROM bets_view WHERE tenant_id = $1 ORDER BY bet_id LIMIT 1 OFFSET 2)
       RETURNING tenant_id, bet_id`,
      [t2],
    );
    const otherBefore = await rowText(other.tenant_id, other.bet_id);
    const table = async () =>
      (
        await db.pool.query<{ oid: number; file: number }>(
          "SELECT c.oid::bigint AS oid, c.relfilenode::bigint AS file FROM pg_class c WHERE c.oid = 'bets_view'::regclass",
        )
      ).rows[0];
    const tableBefore = await table();

    // Appends of every tenant, the rebuilt one included, go on while it runs.
    const more = stream(62, 600);
    const appending = (async () => {
      for (let i = 0; i < more.length; i += 20)
        await s.append(more.slice(i, i + 20), { projection: 'immediate' });
    })();
    const rebuilt = await runProjector(['rebuild', '--tenant', String(t1), '--batch-size', '7'], env);
    await appending;
    expect(rebuilt.stderr).not.toMatch(/error/i);
    expect(rebuilt.code).toBe(0);
    const report = JSON.parse(rebuilt.stdout) as {
      tenants: Array<{
        tenantId: number;
        rowsWithoutEvents: number;
        longestTransactionMs: number;
        bets: number;
      }>;
      followersMs: number;
    };
    expect(report.tenants).toHaveLength(1);
    expect(report.tenants[0]).toMatchObject({ tenantId: t1, rowsWithoutEvents: 1 });
    expect(report.tenants[0]!.longestTransactionMs).toBeGreaterThanOrEqual(0);
    expect(report.followersMs).toBeGreaterThanOrEqual(0);

    // No swap: the same table, the same file.
    expect(await table()).toEqual(tableBefore);
    // Only the other tenant's wrong row is left wrong, exactly as it was.
    const problems = await viewMismatches(db.pool);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p.startsWith(`${other.tenant_id}:${other.bet_id}:`)).toBe(true);
    expect(await rowText(other.tenant_id, other.bet_id)).toBe(otherBefore);
    expect(await rowText(changed.tenant_id, changed.bet_id)).toBeDefined();
    expect(await rowText(deleted.tenant_id, deleted.bet_id)).toBeDefined();
    expect(await rowText(t1, 'ghost')).toBeUndefined();
    const followers = await reconciler.checkFollowers(db.pool, { tenantIds: [t1] });
    for (const check of Object.values(followers)) expect(check.differing).toBe(0);
  });

  it('--max-events-per-second holds the rebuild to the rate; whole-table options are refused with --tenant and the other way round', async () => {
    const t3 = 3;
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM bet_events WHERE tenant_id = $1',
      [t3],
    );
    const events = rows[0]!.n;
    expect(events).toBeGreaterThan(100);
    const rate = Math.ceil(events / 2);
    const throttled = await runProjector(
      ['rebuild', '--tenant', String(t3), '--max-events-per-second', String(rate), '--batch-size', '10'],
      env,
    );
    expect(throttled.code).toBe(0);
    const report = JSON.parse(throttled.stdout) as { throttledMs: number; elapsedMs: number };
    // `events` at `rate` per second cannot take less than events / rate seconds: it waited for it.
    expect(report.throttledMs).toBeGreaterThan(0);
    expect(report.elapsedMs).toBeGreaterThanOrEqual((events / rate) * 1000 - 50);

    const unscoped = await runProjector(['rebuild', '--max-events-per-second', '100'], env);
    expect(unscoped.code).toBe(2);
    expect(unscoped.stderr).toContain('--max-events-per-second and --batch-size go with --tenant');
    const mixed = await runProjector(['rebuild', '--tenant', '1', '--strategy', 'copy'], env);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--strategy is for the whole-table rebuild');
    const zero = await runProjector(['rebuild', '--tenant', '1', '--max-events-per-second', '0'], env);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--max-events-per-second 0 is out of range');
  });
});
