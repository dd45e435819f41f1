/**
 * TLS and credential settings for PostgreSQL and Kafka, read from the environment. Every secret
 * (passwords, private keys, a connection string that may carry a password) can also come from a
 * mounted file: NAME_FILE. Errors name the setting, never the secret.
 */
import { ConfigError, boolean, oneOf, pem, valueOrFile, type Env } from '../configEnv.js';

/** PEM contents (not paths): a CA bundle, a client certificate chain and its private key. */
export interface TlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** libpq's sslmode values that node-postgres can honour (it has no plaintext fallback: no allow/prefer). */
const DATABASE_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];

export interface DatabaseSsl extends TlsMaterial {
  readonly mode: DatabaseSslMode;
}

const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSasl {
  readonly mechanism: KafkaSaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaTls extends TlsMaterial {
  /** Passphrase of an encrypted client key. */
  readonly keyPassphrase?: string;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;

function tlsMaterial(env: Env, prefix: string): TlsMaterial {
  const ca = pem(env, `${prefix}_CA`, CERTIFICATE, 'certificate');
  const cert = pem(env, `${prefix}_CERT`, CERTIFICATE, 'certificate');
  const key = pem(env, `${prefix}_KEY`, PRIVATE_KEY, 'private key');
  if ((cert === undefined) !== (key === undefined)) {
    const [set, missing] = cert === undefined ? ['KEY', 'CERT'] : ['CERT', 'KEY'];
    throw new ConfigError(
      `${prefix}_${set} is set without ${prefix}_${missing} (a client certificate needs both)`,
    );
  }
  return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
}

/** Query parameters of DATABASE_URL that name files: the *_FILE variables replace them. */
const URL_FILE_PARAMS: Readonly<Record<string, string>> = {
  sslrootcert: 'DATABASE_SSL_CA_FILE',
  sslcert: 'DATABASE_SSL_CERT_FILE',
  sslkey: 'DATABASE_SSL_KEY_FILE',
};

/** Query parameters of DATABASE_URL that are honoured; any other would be silently dropped. */
const URL_PARAMS = new Set(['sslmode', 'host']);

export function databaseSsl(env: Env, url: URL): DatabaseSsl {
  for (const param of url.searchParams.keys()) {
    const replacement = URL_FILE_PARAMS[param];
    if (replacement !== undefined) {
      throw new ConfigError(`DATABASE_URL parameter ${param} is not supported; set ${replacement} instead`);
    }
    if (!URL_PARAMS.has(param)) {
      throw new ConfigError(`DATABASE_URL parameter ${param} is not supported (only sslmode and host)`);
    }
  }
  const fromUrl = url.searchParams.get('sslmode') ?? undefined;
  const fromEnv = oneOf(env, 'DATABASE_SSL_MODE', DATABASE_SSL_MODES);
  if (fromUrl !== undefined && !(DATABASE_SSL_MODES as readonly string[]).includes(fromUrl)) {
    throw new ConfigError(`DATABASE_URL sslmode "${fromUrl}" is not one of ${DATABASE_SSL_MODES.join(', ')}`);
  }
  if (fromUrl !== undefined && fromEnv !== undefined && fromUrl !== fromEnv) {
    throw new ConfigError(`DATABASE_SSL_MODE "${fromEnv}" contradicts DATABASE_URL sslmode "${fromUrl}"`);
  }
  const mode = (fromEnv ?? fromUrl ?? 'disable') as DatabaseSslMode;
  const material = tlsMaterial(env, 'DATABASE_SSL');
  if (mode === 'disable' && Object.keys(material).length > 0) {
    throw new ConfigError('DATABASE_SSL_CA/CERT/KEY are set but DATABASE_SSL_MODE is disable');
  }
  return { mode, ...material };
}

/** DATABASE_PASSWORD(_FILE): overrides a password in DATABASE_URL, which then must not have one. */
export function databasePassword(env: Env, url: URL): string | undefined {
  const password = valueOrFile(env, 'DATABASE_PASSWORD');
  if (password !== undefined && url.password !== '') {
    throw new ConfigError('DATABASE_PASSWORD is set and DATABASE_URL has a password too; keep one');
  }
  return password;
}

export function kafkaTls(env: Env): KafkaTls | null {
  const material = tlsMaterial(env, 'KAFKA_SSL');
  const keyPassphrase = valueOrFile(env, 'KAFKA_SSL_KEY_PASSWORD');
  const hasMaterial = Object.keys(material).length > 0;
  const enabled = boolean(env, 'KAFKA_SSL', hasMaterial);
  if (!enabled && hasMaterial) throw new ConfigError('KAFKA_SSL is false but KAFKA_SSL_CA/CERT/KEY are set');
  if (keyPassphrase !== undefined && material.key === undefined) {
    throw new ConfigError('KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY');
  }
  return enabled ? { ...material, ...(keyPassphrase !== undefined && { keyPassphrase }) } : null;
}

export function kafkaSasl(env: Env, tls: KafkaTls | null): KafkaSasl | null {
  const mechanism = oneOf(env, 'KAFKA_SASL_MECHANISM', KAFKA_SASL_MECHANISMS);
  const username = valueOrFile(env, 'KAFKA_SASL_USERNAME');
  const password = valueOrFile(env, 'KAFKA_SASL_PASSWORD');
  if (mechanism === undefined) {
    if (username !== undefined || password !== undefined) {
      throw new ConfigError('KAFKA_SASL_USERNAME/PASSWORD are set without KAFKA_SASL_MECHANISM');
    }
    return null;
  }
  if (username === undefined)
    throw new ConfigError(`KAFKA_SASL_MECHANISM ${mechanism} needs KAFKA_SASL_USERNAME`);
  if (password === undefined)
    throw new ConfigError(`KAFKA_SASL_MECHANISM ${mechanism} needs KAFKA_SASL_PASSWORD`);
  if (mechanism === 'plain' && tls === null) {
    throw new ConfigError('KAFKA_SASL_MECHANISM plain without KAFKA_SSL would send the password in clear');
  }
  return { mechanism, username, password };
}

/** Which of TLS material is present, for logs: never the material itself. */
export function describeTls(material: TlsMaterial | null): Record<string, boolean> | null {
  if (material === null) return null;
  return { ca: material.ca !== undefined, clientCertificate: material.cert !== undefined };
}
