import { DIALECTS, STAGED_FROM_ROWS, type BulkInsert } from '../../src/db/dialect.js';

const STAGED: BulkInsert = {
  into: 'bets_view AS v',
  columns: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'bet_id', bound: 'text' },
    { name: 'placed_at', bound: 'bigint', write: (p) => `to_timestamp(${p} / 1000.0)` },
  ],
  computed: [{ name: 'projected_at', value: 'clock_timestamp()', onShards: 'statement_timestamp()' }],
  tail: 'ON CONFLICT (tenant_id, bet_id) DO NOTHING RETURNING tenant_id, bet_id',
  staged: 'bets_view_staged',
};

const rows = (n: number) => Array.from({ length: n }, (_, i) => [1 + (i % 3), `b${i}`, 1_000 + i]);

describe("Citus's staged form of a large batch (BulkInsert.staged)", () => {
  it('is taken from STAGED_FROM_ROWS rows, by an insert that names a staging table, on Citus only', () => {
    expect(
      DIALECTS.citus.insertRows(STAGED, rows(STAGED_FROM_ROWS - 1)).some((s) => s.text.includes('_staged')),
    ).toBe(false);
    expect(DIALECTS.citus.insertRows(STAGED, rows(STAGED_FROM_ROWS))).toHaveLength(4);
    const plain: BulkInsert = { into: STAGED.into, columns: STAGED.columns, tail: STAGED.tail };
    expect(
      DIALECTS.citus.insertRows(plain, rows(STAGED_FROM_ROWS)).some((s) => s.text.includes('_staged')),
    ).toBe(false);
    expect(DIALECTS.postgres.insertRows(STAGED, rows(STAGED_FROM_ROWS))).toHaveLength(1);
  });

  it('stages every row in order under one batch id, then upserts and deletes that batch on its tenants alone, unserialized', () => {
    const batch = rows(STAGED_FROM_ROWS + 5);
    const [unserialized, stageIn, upsert, remove] = DIALECTS.citus.insertRows(STAGED, batch) as [
      { text: string; values: unknown[] },
      { text: string; values: unknown[] },
      { text: string; values: unknown[] },
      { text: string; values: unknown[] },
    ];
    // Multi-shard writes that other flushes need not queue behind, for the rest of the transaction.
    expect(unserialized.text).toBe('SET LOCAL citus.enable_deadlock_prevention TO off');
    expect(stageIn.text).toMatch(
      /INSERT INTO bets_view_staged \(batch_id, tenant_id, bet_id, placed_at, ordinal\)/,
    );
    expect(stageIn.text).toMatch(/WITH ORDINALITY/);
    const [id, tenants, bets, placed] = stageIn.values as [string, number[], string[], number[]];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenants).toEqual(batch.map((r) => r[0]));
    expect(bets).toEqual(batch.map((r) => r[1]));
    expect(placed).toEqual(batch.map((r) => r[2]));
    // The column's write applies on the way out of the staging table, the computed column there too,
    // in its form for the shards; the order is the subquery's.
    expect(upsert.text).toContain('to_timestamp(s.placed_at / 1000.0), statement_timestamp()');
    expect(upsert.text).toMatch(/ORDER BY s\.ordinal\) s\s+ON CONFLICT/);
    expect(upsert.values).toEqual([id, [1, 2, 3]]);
    expect(remove.text).toMatch(
      /^DELETE FROM bets_view_staged s WHERE s\.batch_id = \$1 AND s\.tenant_id = ANY/,
    );
    expect(remove.values).toEqual([id, [1, 2, 3]]);
    // Another batch, another id: two batches in one transaction never meet.
    expect((DIALECTS.citus.insertRows(STAGED, batch)[1]!.values[0] as string) === id).toBe(false);
  });

  it("keeps Citus's shard lock for rows concurrent writers share (sharedRows), and only for them", () => {
    const shared: BulkInsert = { ...STAGED, sharedRows: true };
    expect(DIALECTS.citus.insertRows(shared, rows(STAGED_FROM_ROWS))[0]!.text).toBe(
      'SET LOCAL citus.enable_deadlock_prevention TO on',
    );
    expect(DIALECTS.citus.insertRows(STAGED, rows(STAGED_FROM_ROWS))[0]!.text).toBe(
      'SET LOCAL citus.enable_deadlock_prevention TO off',
    );
  });

  it('refuses a staged insert without tenant_id, the column it routes by', () => {
    const noTenant: BulkInsert = { ...STAGED, columns: STAGED.columns.slice(1) };
    expect(() =>
      DIALECTS.citus.insertRows(
        noTenant,
        rows(STAGED_FROM_ROWS).map((r) => r.slice(1)),
      ),
    ).toThrow(/no tenant_id column/);
  });
});
