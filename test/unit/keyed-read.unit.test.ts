import { DIALECTS, MAX_READ_STATEMENTS, type KeyedRead } from '../../src/db/dialect.js';

const READ: KeyedRead = {
  columns: 'tenant_id, bet_id, version',
  from: 'bets_view',
  keys: [
    { name: 'tenant_id', bound: 'bigint' },
    { name: 'bet_id', bound: 'text' },
  ],
  orderBy: 'ORDER BY tenant_id, bet_id',
};

describe('a read by keys (Dialect.readByKeys)', () => {
  const keys = [
    [12, 'b'],
    [3, 'a'],
    [12, 'a'],
    ['3', 'c'],
    [3, 'a'],
  ] as const;

  it('on Citus without shards known is one statement per tenant, in tenant order, each with that tenant alone and its own keys', () => {
    const { statements } = DIALECTS.citus.readByKeys(READ, keys);
    // Tenant 3 given as a number and as text is one tenant; 3 before 12, by value.
    expect(statements.map((s) => s.values)).toEqual([
      [[3], ['a', 'c']],
      [[12], ['b', 'a']],
    ]);
    for (const statement of statements) {
      expect(statement.text).toBe(
        'SELECT tenant_id, bet_id, version\nFROM bets_view\nWHERE tenant_id = ANY($1::bigint[]) AND bet_id = ANY($2::text[])\nORDER BY tenant_id, bet_id',
      );
    }
  });

  it('on Citus is one statement per shard where the shards are known, a tenant of no known shard alone', () => {
    const shards: Record<string, string> = { '1': 's7', '2': 's3', '4': 's7', '9': 's3' };
    const { statements } = DIALECTS.citus.readByKeys(
      READ,
      [
        [4, 'd'],
        [1, 'a'],
        [2, 'b'],
        [5, 'e'],
        ['9', 'c'],
        [1, 'f'],
      ],
      (tenant) => shards[String(tenant)],
    );
    // Ordered by each group's smallest tenant: s7 (1, 4), s3 (2, 9), then tenant 5 alone.
    expect(statements.map((s) => s.values)).toEqual([
      [
        [4, 1],
        ['d', 'a', 'f'],
      ],
      [
        [2, '9'],
        ['b', 'c'],
      ],
      [[5], ['e']],
    ]);
  });

  it('on Citus is one statement over every tenant past MAX_READ_STATEMENTS groups', () => {
    const many = Array.from({ length: MAX_READ_STATEMENTS + 1 }, (_, i) => [i + 1, `b${i % 7}`] as const);
    const { statements } = DIALECTS.citus.readByKeys(READ, many);
    expect(statements).toHaveLength(1);
    expect(statements[0]!.text).toContain('WHERE tenant_id = ANY($1::bigint[]) AND bet_id = ANY($2::text[])');
    expect(statements[0]!.values).toEqual([many.map((k) => k[0]), [...new Set(many.map((k) => k[1]))]]);
    expect(DIALECTS.citus.readByKeys(READ, many.slice(1)).statements).toHaveLength(MAX_READ_STATEMENTS);
    // The same tenants on 4 shards: 4 statements.
    expect(DIALECTS.citus.readByKeys(READ, many, (t) => `s${Number(t) % 4}`).statements).toHaveLength(4);
  });

  it('on Citus keeps exactly the keys asked for from the superset its filters read', () => {
    const read = DIALECTS.citus.readByKeys(READ, keys);
    const answered = [
      { tenant_id: 3, bet_id: 'a' },
      { tenant_id: 3, bet_id: 'c' },
      { tenant_id: 3, bet_id: 'b' },
      { tenant_id: 12, bet_id: 'a' },
      { tenant_id: 12, bet_id: 'c' },
    ];
    expect(read.keep(answered, (r) => [r.tenant_id, r.bet_id])).toEqual([
      { tenant_id: 3, bet_id: 'a' },
      { tenant_id: 3, bet_id: 'c' },
      { tenant_id: 12, bet_id: 'a' },
    ]);
  });

  it('on PostgreSQL is one statement joining every key, kept whole', () => {
    const read = DIALECTS.postgres.readByKeys(READ, keys);
    const { statements } = read;
    expect(statements).toHaveLength(1);
    expect(statements[0]!.text).toContain(
      'WHERE (tenant_id, bet_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))',
    );
    expect(statements[0]!.values).toEqual([keys.map((k) => k[0]), keys.map((k) => k[1])]);
    const rows = [{ tenant_id: 1, bet_id: 'x' }];
    expect(read.keep(rows, (r) => [r.tenant_id, r.bet_id])).toEqual(rows);
  });
});
