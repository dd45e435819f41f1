import fc from 'fast-check';
import { loadMigrations } from '../../src/db/migrate.js';
import { splitStatements, SqlSplitError } from '../../src/db/sqlStatements.js';

describe('splitStatements (migrations are sent one statement per query, for Citus)', () => {
  it('splits on semicolons and drops leading comments and comment-only parts', () => {
    expect(splitStatements('-- head\nCREATE TABLE a (x int);\n/* note; */ SELECT 1;\n-- tail;\n')).toEqual([
      'CREATE TABLE a (x int)',
      'SELECT 1',
    ]);
  });

  it('keeps semicolons inside strings, quoted identifiers, comments and dollar quotes', () => {
    const sql = [
      `INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\'slash;')`,
      `CREATE TABLE "odd;name" (x int -- inline; comment\n)`,
      `DO $$ BEGIN EXECUTE format($p$CREATE POLICY x ON t USING (a = 'b;c')$p$); END $$`,
      `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$`,
      `SELECT /* outer /* nested; */ still; */ 2`,
    ];
    expect(splitStatements(sql.join(';\n') + ';')).toEqual(sql);
  });

  it('does not take $1 parameters or identifiers with dollars for dollar quotes', () => {
    expect(splitStatements('SELECT $1::int; SELECT a$b$ FROM t; SELECT 3')).toEqual([
      'SELECT $1::int',
      'SELECT a$b$ FROM t',
      'SELECT 3',
    ]);
  });

  it('refuses unterminated quotes naming the line', () => {
    expect(() => splitStatements("SELECT 1;\nSELECT 'open;")).toThrow(
      new SqlSplitError('string opened on line 2 is never closed'),
    );
    expect(() => splitStatements('DO $x$ BEGIN')).toThrow(/dollar-quoted body \$x\$ opened on line 1/);
    expect(() => splitStatements('/* a')).toThrow(/comment opened on line 1/);
  });

  it('joining statements with ";" and splitting again is the identity', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'SELECT 1',
        "SELECT ';'",
        'SELECT $$;$$',
        'SELECT "a;"',
        'SELECT 1 /* ; */',
        "SELECT E'\\';'",
      ),
      fc
        .stringMatching(/^[a-z ]{1,10}$/)
        .filter((s) => s.trim().length > 0)
        .map((s) => `SELECT ${s}`),
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (pieces) => {
        expect(splitStatements(pieces.join(';\n'))).toEqual(pieces.map((p) => p.trim()));
      }),
    );
  });

  it('splits every migration into statements that each start with a command', async () => {
    for (const migration of await loadMigrations()) {
      expect(migration.statements.length).toBeGreaterThan(0);
      for (const statement of migration.statements) {
        const code = statement.replace(/--.*$/gm, '').trim();
        expect(code).toMatch(/^(CREATE|ALTER|DO|REVOKE|GRANT|SELECT|INSERT|DROP)\b/);
      }
    }
  });
});
