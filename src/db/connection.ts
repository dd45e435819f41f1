/**
 * The pg connection options for a configured database: host, user and database from DATABASE_URL,
 * the password from DATABASE_PASSWORD when set, and TLS from the sslmode. Built field by field
 * (not pg's connectionString, which would let the URL override the password and the TLS options).
 */
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type pg from 'pg';
import { parse } from 'pg-connection-string';
import type { Config } from '../config.js';
import type { DatabaseSsl } from '../security/settings.js';

/** Where and how to connect; TLS is off unless `databaseSsl` says otherwise. */
export type DatabaseSettings = Pick<Config, 'databaseUrl'> & {
  readonly databasePassword?: string;
  readonly databaseSsl?: DatabaseSsl;
};

/** node's TLS options for libpq's sslmode semantics. */
function tlsOptions(ssl: DatabaseSsl, host: string): false | ConnectionOptions {
  if (ssl.mode === 'disable') return false;
  const material = {
    ...(ssl.ca !== undefined && { ca: ssl.ca }),
    ...(ssl.cert !== undefined && { cert: ssl.cert }),
    ...(ssl.key !== undefined && { key: ssl.key }),
  };
  // require: encrypted, the server's certificate not checked (libpq's meaning).
  if (ssl.mode === 'require') return { ...material, rejectUnauthorized: false };
  // verify-ca: the chain must lead to the CA; any host name.
  if (ssl.mode === 'verify-ca')
    return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  // verify-full: and the certificate must name the host we dial. pg passes no host to TLS when it is
  // an IP address, and node would then check the name "localhost"; check the real host instead.
  return {
    ...material,
    rejectUnauthorized: true,
    checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert),
  };
}

export function connectionOptions(settings: DatabaseSettings): pg.ClientConfig {
  const parsed = parse(settings.databaseUrl);
  const host = parsed.host ?? '127.0.0.1';
  return {
    host,
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
    ...(parsed.user ? { user: parsed.user } : {}),
    ...(parsed.database ? { database: parsed.database } : {}),
    ...(settings.databasePassword !== undefined
      ? { password: settings.databasePassword }
      : parsed.password
        ? { password: parsed.password }
        : {}),
    ssl: tlsOptions(settings.databaseSsl ?? { mode: 'disable' }, host),
  };
}

/** The same settings pointed at another database on the same server. */
export function withDatabase<T extends DatabaseSettings>(settings: T, database: string): T {
  const url = new URL(settings.databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return { ...settings, databaseUrl: url.toString() };
}
