/**
 * A second, private PostgreSQL server for the security tests: TLS on, certificates made for this
 * run with openssl (a CA, a server certificate for IP 127.0.0.1 only, and an unrelated "rogue" CA),
 * password (SCRAM) authentication over TLS only: pg_hba.conf has no plaintext TCP entry at all.
 * It listens on 127.0.0.1 and 127.0.0.2, so the same server can be dialled by a name its
 * certificate does not carry. Started from the PostgreSQL server binaries on this machine.
 */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
  appendFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/freePort.js';

export interface TlsPostgres {
  readonly port: number;
  /** CA that signed the server certificate (SAN: IP 127.0.0.1 only). */
  readonly caFile: string;
  /** A CA that signed nothing this server presents. */
  readonly rogueCaFile: string;
  /** Superuser over the private unix socket (trust): for the tests' own setup and oracle. */
  adminConfig(database?: string): pg.ClientConfig;
  stop(): void;
}

function binDir(): string {
  const fromEnv = process.env['PG_BINDIR'];
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = path.join(root, version, 'bin');
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error(
    'The security tests start a second PostgreSQL with TLS from the server binaries (initdb, pg_ctl), ' +
      'and found none under /usr/lib/postgresql/*/bin: install the PostgreSQL server package or set PG_BINDIR.',
  );
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A self-signed CA certificate (and its key) valid for two days. */
function selfSignedCa(dir: string, name: string, key: string, cert: string): void {
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert];
  openssl([...args, '-days', '2', '-subj', `/CN=${name}`], dir);
}

function makeCertificates(dir: string): void {
  const days = ['-days', '2'];
  selfSignedCa(dir, 'bet-projector test CA', 'ca.key', 'ca.pem');
  selfSignedCa(dir, 'rogue CA', 'rogue.key', 'rogue-ca.pem');
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ],
    dir,
  );
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      ...days,
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  chmodSync(path.join(dir, 'server.key'), 0o600);
}

export async function startTlsPostgres(): Promise<TlsPostgres> {
  const bin = binDir();
  const root = mkdtempSync(path.join(tmpdir(), 'bp-tls-pg-'));
  const data = path.join(root, 'data');
  makeCertificates(root);
  // initdb and postgres refuse to run as root: run them as the postgres user, which owns the dir.
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const run = (command: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : path.join(bin, command),
      asRoot ? ['-u', 'postgres', '--', path.join(bin, command), ...args] : args,
      {
        stdio: 'pipe',
      },
    );
  if (owner !== undefined) {
    chmodSync(root, 0o755);
    for (const file of ['', ...readdirSync(root)]) chownSync(path.join(root, file), owner, owner);
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1,127.0.0.2'`,
      `unix_socket_directories = '${root}'`,
      'ssl = on',
      `ssl_cert_file = '${path.join(root, 'server.pem')}'`,
      `ssl_key_file = '${path.join(root, 'server.key')}'`,
      `password_encryption = 'scram-sha-256'`,
      'fsync = off',
      'max_connections = 60',
      '',
    ].join('\n'),
  );
  // TLS or nothing over TCP: no "host" or "hostnossl" line, so a plaintext client is refused.
  writeFileSync(
    path.join(data, 'pg_hba.conf'),
    'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all 127.0.0.2/32 scram-sha-256\n',
  );
  run('pg_ctl', ['-D', data, '-l', path.join(root, 'server.log'), '-w', '-t', '60', 'start']);
  return {
    port,
    caFile: path.join(root, 'ca.pem'),
    rogueCaFile: path.join(root, 'rogue-ca.pem'),
    adminConfig: (database = 'postgres') => ({ host: root, port, user: 'postgres', database }),
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
