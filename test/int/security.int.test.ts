/**
 * Encrypted, authenticated connections end to end: a second PostgreSQL with TLS and SCRAM only
 * (test/support/tlsPostgres.ts), dialled with sslmode verify-full, and the broker's SASL_SSL
 * listener (scripts/stack.sh). The migrator creates the schema and roles over TLS; a producer and a
 * worker run as the worker role; wrong settings fail at start naming the setting, never a secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { viewMismatches } from '../support/oracle.js';
import { saslSslListener, uniqueName } from '../support/kafka.js';
import { registerSecrets, runProjector, startProjector, type ProjectorRun } from '../support/processes.js';
import { startTlsPostgres, type TlsPostgres } from '../support/tlsPostgres.js';
import { waitFor } from '../support/oracle.js';

const secret = (label: string) => `${label}-${randomBytes(12).toString('base64url')}`;

describe('TLS and SASL end to end', () => {
  let server: TlsPostgres;
  let admin: pg.Pool;
  let files: string;
  let migratorEnv: Record<string, string>;
  let workerEnv: Record<string, string>;
  const passwords = { migrator: secret('migrator'), worker: secret('worker'), wrong: secret('wrong') };
  const kafka = saslSslListener();
  const topic = uniqueName('secure');

  const file = (name: string, content: string) => {
    const at = path.join(files, name);
    writeFileSync(at, `${content}\n`, { mode: 0o600 });
    return at;
  };

  beforeAll(async () => {
    registerSecrets(...Object.values(passwords), readFileSync(kafka.passwordFile, 'utf8').trim());
    server = await startTlsPostgres();
    admin = new pg.Pool({ ...server.adminConfig(), max: 2 });
    await admin.query(`CREATE ROLE bp_migrator LOGIN CREATEROLE PASSWORD '${passwords.migrator}'`);
    await admin.query('CREATE DATABASE bets OWNER bp_migrator');
    files = mkdtempSync(path.join(tmpdir(), 'bp-secrets-'));
    const common = {
      DATABASE_SSL_MODE: 'verify-full',
      DATABASE_SSL_CA_FILE: server.caFile,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_SSL_CA_FILE: kafka.caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: kafka.username,
      KAFKA_SASL_PASSWORD_FILE: kafka.passwordFile,
      KAFKA_TOPIC: topic,
      KAFKA_TOPIC_PARTITIONS: '3',
      // Debug logs print the (masked) config and kafkajs's connection details: the most to leak.
      LOG_LEVEL: 'debug',
    };
    migratorEnv = {
      ...common,
      DATABASE_URL: `postgres://bp_migrator@127.0.0.1:${server.port}/bets`,
      DATABASE_PASSWORD_FILE: file('migrator-password', passwords.migrator),
    };
    workerEnv = {
      ...common,
      DATABASE_URL: `postgres://bp_worker@127.0.0.1:${server.port}/bets`,
      DATABASE_PASSWORD_FILE: file('worker-password', passwords.worker),
      HTTP_PORT: '0',
      KAFKA_GROUP_ID: uniqueName('secure-g'),
    };
  });
  afterAll(async () => {
    await admin?.end();
    server?.stop();
  });

  const expectNoSecret = (text: string) => {
    for (const password of [...Object.values(passwords), readFileSync(kafka.passwordFile, 'utf8').trim()]) {
      expect(text).not.toContain(password);
    }
  };

  it('the migrator creates schema, roles and topic; a producer and a worker run as the worker role over verify-full and SASL_SSL', async () => {
    const migrated = await runProjector(['migrate'], migratorEnv);
    const migrations = readdirSync(
      path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations'),
    ).filter((f) => f.endsWith('.sql'));
    expect(migrated.stdout).toContain(`${migrations.length} migration(s) applied`);
    expect(migrated.code).toBe(0);
    // The group roles came from migration 006, run by a CREATEROLE migrator, not a superuser.
    await admin.query(
      `CREATE ROLE bp_worker LOGIN PASSWORD '${passwords.worker}' IN ROLE bet_projector_writer`,
    );

    const produced = await runProjector(['simulate', '--events', '3000', '--tenants', '5'], workerEnv);
    expect(produced.code).toBe(0);
    const bets = await pg_count('SELECT count(DISTINCT (tenant_id, aggregate_id))::int AS n FROM bet_events');
    expect(await pg_count('SELECT count(*)::int AS n FROM bet_events')).toBe(3000);

    const worker = startProjector(['worker'], workerEnv);
    try {
      await waitFor(
        'the worker to project every bet',
        async () => (await pg_count('SELECT count(*)::int AS n FROM bets_view')) === bets,
        60_000,
      );
      // Every connection the worker holds is TLS, and it runs as the worker role.
      const { rows } = await admin.query<{ usename: string; ssl: boolean }>(
        `SELECT DISTINCT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name = 'bet-projector:worker'`,
      );
      expect(rows).toEqual([{ usename: 'bp_worker', ssl: true }]);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    const dbAdmin = new pg.Pool({ ...server.adminConfig('bets'), max: 2 });
    try {
      expect(await viewMismatches(dbAdmin)).toEqual([]);
    } finally {
      await dbAdmin.end();
    }
    const logs = [migrated.stdout, migrated.stderr, produced.stdout, produced.stderr, worker.logs()].join(
      '\n',
    );
    expect(worker.logField('starting', 'config')).toMatchObject({
      databaseSsl: { mode: 'verify-full', ca: true },
      kafkaSasl: { mechanism: 'scram-sha-512', username: kafka.username },
      databasePassword: 'set',
    });
    expectNoSecret(logs);
  });

  async function pg_count(sql: string): Promise<number> {
    const pool = new pg.Pool({ ...server.adminConfig('bets'), max: 1 });
    try {
      return (await pool.query<{ n: number }>(sql)).rows[0]!.n;
    } finally {
      await pool.end();
    }
  }

  /** Runs `worker` with `changes` and expects exit 2 with one stderr line that names `setting`. */
  async function refused(changes: Record<string, string>, setting: string): Promise<ProjectorRun> {
    const run = await runProjector(['worker'], { ...workerEnv, LOG_LEVEL: 'info', ...changes });
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(setting);
    expect(run.code).toBe(2);
    expectNoSecret(run.stdout + run.stderr);
    return run;
  }

  it.each<[string, () => Record<string, string>, string]>([
    [
      'a wrong database password',
      () => ({ DATABASE_PASSWORD_FILE: file('wrong-db', passwords.wrong) }),
      'DATABASE_PASSWORD',
    ],
    [
      'a CA that did not sign the server certificate',
      () => ({ DATABASE_SSL_CA_FILE: server.rogueCaFile }),
      'DATABASE_SSL_CA_FILE',
    ],
    [
      'a host name the certificate does not carry (verify-full)',
      () => ({ DATABASE_URL: `postgres://bp_worker@127.0.0.2:${server.port}/bets` }),
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ],
    [
      'no TLS towards a server that requires it',
      () => ({ DATABASE_SSL_MODE: 'disable', DATABASE_SSL_CA_FILE: '' }),
      'DATABASE_SSL_MODE',
    ],
    [
      'a wrong Kafka password',
      () => ({ KAFKA_SASL_PASSWORD_FILE: file('wrong-kafka', passwords.wrong) }),
      'KAFKA_SASL_PASSWORD',
    ],
    [
      'a CA that did not sign the broker certificate',
      () => ({ KAFKA_SSL_CA_FILE: server.rogueCaFile }),
      'KAFKA_SSL_CA_FILE',
    ],
    [
      'a missing Kafka password',
      () => ({ KAFKA_SASL_PASSWORD_FILE: '' }),
      'KAFKA_SASL_MECHANISM scram-sha-512 needs KAFKA_SASL_PASSWORD',
    ],
  ])('%s fails at start with one line naming the setting', async (_name, changes, setting) => {
    await refused(changes(), setting);
  });

  it('verify-ca accepts the same server under a name its certificate does not carry', async () => {
    const run = await runProjector(['lag', '--no-kafka'], {
      ...workerEnv,
      DATABASE_URL: `postgres://bp_worker@127.0.0.2:${server.port}/bets`,
      DATABASE_SSL_MODE: 'verify-ca',
      LOG_LEVEL: 'warn',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
