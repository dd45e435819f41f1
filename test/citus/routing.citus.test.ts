/**
 * On the cluster, every write a flush sends goes to the shards that hold its rows: none is planned
 * through the coordinator (Citus's "INSERT/SELECT method: pull to coordinator" computes the rows
 * there and pushes them to each shard in turn — a round trip per shard touched, inside the
 * transaction). Each statement the write sent is EXPLAINed on the cluster itself; so are verify's
 * comparison of one tenant and every statement of one tenant's rebuild, each of which must be a
 * single task.
 */
import pg from 'pg';
import { STAGED_FROM_ROWS } from '../../src/db/dialect.js';
import { shardOf } from '../../src/db/shardMap.js';
import { shardRangesOf } from '../../src/db/shardRanges.js';
import { detectDialect, dialectOf } from '../../src/db/platform.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { groupByBet } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import { readBetRows, writeBetRows } from '../../projections/bets/statements.js';
import { FOLLOWERS, reconciler } from '../../projections/registry.js';
import { EXPOSURE_SUMS } from '../../projections/exposure/statements.js';
import { additionOfRows } from '../../projections/sums.js';
import { rebuildTenant } from '../../projections/bets/rebuildTenant.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { selectEventsOfBets } from '../../src/store/statements.js';
import type { Queryable } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { recordQueries } from '../support/recordQueries.js';

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
    const client = await pool.connect();
    const sent = recordQueries(client);
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
  it('a large batch reaches the shards through the staging tables: only the staging goes through the coordinator, as COPY', async () => {
    const events = [...simulateEvents({ seed: 64, events: 2_000, tenants: 4, openBets: 600, now: () => 1 })];
    // Placements: each opens a bet, so user_exposure's addition has a row per user placing one.
    const rows = [...groupByBet(events).values()].map((es) => foldBet(es.slice(0, 1))!);
    expect(new Set(rows.map((r) => `${r.tenantId}:${r.userId}`)).size).toBeGreaterThanOrEqual(
      STAGED_FROM_ROWS,
    );
    expect(rows.length).toBeGreaterThanOrEqual(STAGED_FROM_ROWS);
    const notices: string[] = [];
    const client = await pool.connect();
    const sent = recordQueries(client);
    const onNotice = (notice: { message?: string }) => notices.push(notice.message ?? '');
    client.on('notice', onNotice);
    try {
      await client.query('BEGIN');
      // Citus says at DEBUG1 how it runs each INSERT … SELECT that it does not push to the shards.
      await client.query('SET LOCAL client_min_messages TO debug1');
      expect((await writeBetRows(client, rows, FOLLOWERS)).size).toBe(rows.length);
      await client.query('ROLLBACK');
    } finally {
      client.off('notice', onNotice);
      client.release();
    }
    expect(sent.filter((s) => s.text.includes('bets_view_staged'))).toHaveLength(3);
    // Each batch into its staging table: computed on the coordinator, then sent to the shards (no
    // ON CONFLICT, so as COPY). The UPSERT and the addition from there, the deletions and the other
    // follower's addition: on the shards, nothing pulled through the coordinator or repartitioned.
    const staging = [
      'distributed INSERT ... SELECT can only select from distributed tables',
      'Collecting INSERT ... SELECT results on coordinator',
    ];
    // bets_view's batch, then user_exposure's addition (as many users as bets): each staged.
    expect(sent.filter((s) => s.text.includes('user_exposure_staged'))).toHaveLength(3);
    expect(notices).toEqual([...staging, ...staging]);
  });

  it("a flush's reads by key go as one statement per shard their tenants are on, each one task", async () => {
    const events = [...simulateEvents({ seed: 65, events: 300, tenants: 8, openBets: 40, now: () => 1 })];
    const histories = [...groupByBet(events).values()];
    await createEventStore({ pool: db.pool, publisher: noPublisher }).append(events);
    const writer = await pool.connect();
    await writeBetRows(
      writer,
      histories.map((es) => foldBet(es)!),
    ).finally(() => writer.release());
    const bets = histories.map((es) => ({ tenantId: es[0]!.tenantId, betId: es[0]!.aggregateId }));
    const tenants = [...new Set(bets.map((b) => b.tenantId))];
    // Citus's own answer for each tenant's shard; these tenants share some.
    const { rows: placed } = await db.pool.query<{ shard: string }>(
      `SELECT DISTINCT get_shard_id_for_distribution_column('bets_view', t)::text AS shard FROM unnest($1::bigint[]) t`,
      [tenants],
    );
    const shards = placed.length;
    expect(shards).toBeGreaterThan(1);
    expect(shards).toBeLessThan(tenants.length);
    // A read through the pool learns the shards (a checked-out client only uses what is known).
    expect((await readBetRows(pool, bets)).size).toBe(bets.length);
    await selectEventsOfBets(pool, bets);
    const client = await pool.connect();
    const sent = recordQueries(client);
    try {
      // The stored rows of the bets, and their events (a re-fold's read).
      const rows = await readBetRows(client, bets);
      expect(rows.size).toBe(bets.length);
      const stored = await selectEventsOfBets(client, bets);
      expect(stored.map((e) => `${e.tenantId}:${e.aggregateId}:${e.version}`).sort()).toEqual(
        [...new Set(events.map((e) => `${e.tenantId}:${e.aggregateId}:${e.version}`))].sort(),
      );
    } finally {
      client.release();
    }
    expect(sent).toHaveLength(2 * shards);
    for (const statement of sent) {
      const plan = await db.pool.query<{ 'QUERY PLAN': string }>({
        text: `EXPLAIN (COSTS OFF) ${statement.text}`,
        values: statement.values ?? [],
      });
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(`${statement.text.slice(0, 80)}\n${text}`).toMatch(/Task Count: 1\b/);
    }
  });

  it("places a tenant on the shard Citus places it on, from the table's shard ranges", async () => {
    const ranges = await shardRangesOf(pool, 'bets_view');
    expect(ranges.length).toBeGreaterThan(1);
    const values = [
      ...Array.from({ length: 300 }, (_, i) => String(i + 1)),
      '0',
      '-1',
      '-9999999999',
      '4294967296',
      '9223372036854775807',
      '-9223372036854775808',
    ];
    const { rows } = await db.pool.query<{ t: string; shard: string }>(
      `SELECT t::text, get_shard_id_for_distribution_column('bets_view', t)::text AS shard FROM unnest($1::bigint[]) t`,
      [values],
    );
    expect(rows).toHaveLength(values.length);
    for (const row of rows) expect([row.t, shardOf(ranges, row.t)]).toEqual([row.t, row.shard]);
  });

  it("verify's comparison of one tenant runs on that tenant's shard alone", async () => {
    const events = [...simulateEvents({ seed: 62, events: 200, tenants: 3, openBets: 20, now: () => 1 })];
    const client = await db.pool.connect();
    await writeBetRows(
      client,
      [...groupByBet(events).values()].map((es) => foldBet(es)!),
    ).finally(() => client.release());
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

  it("rebuild --tenant's statements each run on that tenant's shard alone", async () => {
    const events = [...simulateEvents({ seed: 63, events: 300, tenants: 3, openBets: 20, now: () => 1 })];
    const store = createEventStore({ pool: db.pool, publisher: noPublisher });
    await store.append(events);
    const sent: Array<{ text: string; values: unknown[] }> = [];
    const spied = createPool({ databaseUrl: db.url, dbPoolMax: 2 }, 'bet-projector:test-routing-rebuild');
    spied.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
        const [config, values] = args as [string | pg.QueryConfig, unknown];
        const text = typeof config === 'string' ? config : config.text;
        const bound = Array.isArray(values)
          ? values
          : typeof config === 'string'
            ? []
            : (config.values ?? []);
        // Not the session's own statements, nor the coordinator's metadata (the shard ranges a read
        // by keys is grouped by): they run on no shard.
        if (
          !/^\s*(BEGIN|COMMIT|ROLLBACK|SET|SELECT (set_config|citus_version|current_setting|version))/i.test(
            text,
          ) &&
          !/\bFROM pg_dist_shard\b/.test(text)
        )
          sent.push({ text, values: bound });
        return query(...args);
      };
    });
    try {
      await detectDialect(spied);
      sent.length = 0;
      const report = await rebuildTenant(spied, events[0]!.tenantId, { batchSize: 7 });
      expect(report.rowsWritten).toBeGreaterThan(0);
    } finally {
      await spied.end();
    }
    // The size, the pages, the fold's reads, the rewrites and the delete: each one task.
    expect(sent.length).toBeGreaterThan(4);
    for (const statement of sent) {
      const plan = await db.pool.query<{ 'QUERY PLAN': string }>({
        text: `EXPLAIN (COSTS OFF) ${statement.text}`,
        values: statement.values,
      });
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(`${statement.text.slice(0, 80)}\n${text}`).toMatch(/Task Count: 1\b/);
    }
  });

  it("a follower's large additions take turns on their shards, bets_view's large batches do not", async () => {
    // Eight tenants, so each batch spans shards on both worker nodes; the users of the two
    // additions differ, so only Citus's shard lock, not a row, can hold the second back.
    const tenants = Array.from({ length: 8 }, (_, i) => 9_101 + i);
    const addition = (users: string) =>
      tenants.flatMap((tenant) =>
        Array.from({ length: 60 }, (_, i) => [tenant, `${users}-${i}`, 'EUR', 1, '10.0000', '25.00000000']),
      );
    expect(addition('a').length).toBeGreaterThanOrEqual(STAGED_FROM_ROWS);
    const bets = (seed: number) =>
      [
        ...groupByBet([
          ...simulateEvents({ seed, events: 1_500, tenants: 8, openBets: 500, now: () => 1 }),
        ]).values(),
      ].map((es) => foldBet(es.slice(0, 1))!);
    const [firstBets, secondBets] = [bets(71), bets(72)];
    expect(firstBets.length).toBeGreaterThanOrEqual(STAGED_FROM_ROWS);
    const firstKeys = new Set(firstBets.map((r) => `${r.tenantId}:${r.betId}`));
    expect(secondBets.filter((r) => firstKeys.has(`${r.tenantId}:${r.betId}`))).toEqual([]);
    const pendingFor = async (work: Promise<unknown>, ms: number) =>
      Promise.race([work.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))]);

    const first = await pool.connect();
    const second = await pool.connect();
    try {
      const add = async (client: pg.PoolClient, rows: unknown[][]) => {
        const statements = dialectOf(client).insertRows(additionOfRows(EXPOSURE_SUMS), rows);
        expect(statements.some((s) => s.text.includes('user_exposure_staged'))).toBe(true);
        for (const statement of statements) await client.query(statement);
      };
      await first.query('BEGIN');
      await second.query('BEGIN');
      // bets_view: a partition's own rows; the second batch is written beside the first.
      const sent = recordQueries(second);
      await writeBetRows(first, firstBets);
      expect(await pendingFor(writeBetRows(second, secondBets), 20_000)).toBe(false);
      expect(sent.some((s) => s.text.includes('bets_view_staged'))).toBe(true);
      // user_exposure: rows flushes share; the second addition waits for the first's commit.
      await add(first, addition('a'));
      const later = add(second, addition('b'));
      expect(await pendingFor(later, 1_500)).toBe(true);
      await first.query('COMMIT');
      await later;
      await second.query('COMMIT');
    } finally {
      for (const client of [first, second]) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
      }
    }
    const { rows } = await db.pool.query<{ users: string; open: string }>(
      'SELECT count(*)::text AS users, sum(open_bets)::text AS open FROM user_exposure WHERE tenant_id = ANY($1::bigint[])',
      [tenants],
    );
    expect(rows[0]).toEqual({ users: String(2 * 8 * 60), open: String(2 * 8 * 60) });
    const { rows: view } = await db.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM bets_view WHERE bet_id = ANY($1::text[])',
      [[...firstBets, ...secondBets].map((r) => r.betId)],
    );
    expect(Number(view[0]!.n)).toBe(firstBets.length + secondBets.length);
  });
});
