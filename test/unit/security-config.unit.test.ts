import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';
import { connectionOptions } from '../../src/db/connection.js';
import { securityOptions } from '../../src/kafka/client.js';
import { explainConnectionError } from '../../src/security/connectionErrors.js';
import { classifyError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'bp-security-'));
const PASSWORD = 'pw-Zq83!never-logged';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

function file(name: string, content: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

describe('secrets from env and from mounted files', () => {
  it('reads every secret from NAME_FILE, without the trailing newline Secrets often carry', () => {
    const config = loadConfig({
      DATABASE_URL_FILE: file('url', 'postgres://app@db.internal:5432/bets\n'),
      DATABASE_PASSWORD_FILE: file('db-pw', `${PASSWORD}\n`),
      DATABASE_SSL_MODE: 'verify-full',
      DATABASE_SSL_CA_FILE: file('db-ca.pem', CERT),
      KAFKA_SSL_CA_FILE: file('kafka-ca.pem', CERT),
      KAFKA_SSL_CERT_FILE: file('kafka-cert.pem', CERT),
      KAFKA_SSL_KEY_FILE: file('kafka-key.pem', KEY),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME_FILE: file('user', 'projector\n'),
      KAFKA_SASL_PASSWORD_FILE: file('kafka-pw', `${PASSWORD}\n`),
    });
    expect(config.databasePassword).toBe(PASSWORD);
    const pemFromFile = (value: string) => value.trimEnd();
    expect(config.databaseSsl).toEqual({ mode: 'verify-full', ca: pemFromFile(CERT) });
    expect(config.kafkaSsl).toEqual({
      ca: pemFromFile(CERT),
      cert: pemFromFile(CERT),
      key: pemFromFile(KEY),
    });
    expect(config.kafkaSasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'projector',
      password: PASSWORD,
    });
    const described = JSON.stringify(describeConfig(config));
    expect(described).not.toContain(PASSWORD);
    expect(described).not.toContain('MIIE');
    expect(described).toContain('"mechanism":"scram-sha-512"');
  });

  it.each<[Record<string, string>, string]>([
    [
      { KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: '/x' },
      'KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set',
    ],
    [
      { KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' },
      'KAFKA_SASL_PASSWORD_FILE "/nonexistent/pw" cannot be read (ENOENT)',
    ],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-1' },
      'KAFKA_SASL_MECHANISM "scram-sha-1" is not one of plain, scram-sha-256, scram-sha-512',
    ],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_PASSWORD: PASSWORD }, 'needs KAFKA_SASL_USERNAME'],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' }, 'needs KAFKA_SASL_PASSWORD'],
    [{ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }, 'set without KAFKA_SASL_MECHANISM'],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD },
      'plain without KAFKA_SSL',
    ],
    [{ KAFKA_SSL: 'false', KAFKA_SSL_CA: CERT }, 'KAFKA_SSL is false but KAFKA_SSL_CA/CERT/KEY are set'],
    [{ KAFKA_SSL_CERT: CERT }, 'KAFKA_SSL_CERT is set without KAFKA_SSL_KEY'],
    [{ KAFKA_SSL_CA: 'not a pem' }, 'KAFKA_SSL_CA does not hold a PEM certificate'],
    [{ KAFKA_SSL_KEY_PASSWORD: PASSWORD }, 'KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY'],
    [
      { DATABASE_SSL_MODE: 'prefer' },
      'DATABASE_SSL_MODE "prefer" is not one of disable, require, verify-ca, verify-full',
    ],
    [
      { DATABASE_URL: 'postgres://a@h/db?sslmode=verify-full', DATABASE_SSL_MODE: 'require' },
      'contradicts DATABASE_URL sslmode',
    ],
    [
      { DATABASE_URL: 'postgres://a@h/db?sslrootcert=/ca.pem' },
      'sslrootcert is not supported; set DATABASE_SSL_CA_FILE',
    ],
    [
      { DATABASE_URL: `postgres://a:${PASSWORD}@h/db`, DATABASE_PASSWORD: PASSWORD },
      'DATABASE_PASSWORD is set and DATABASE_URL has a password too',
    ],
    [{ DATABASE_SSL_CA: CERT }, 'DATABASE_SSL_CA/CERT/KEY are set but DATABASE_SSL_MODE is disable'],
    [
      { DATABASE_URL: 'postgres://a@h/db?options=-csearch_path%3Dx' },
      'DATABASE_URL parameter options is not supported',
    ],
  ])('rejects %j naming the setting and never the secret', (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(message);
    expect((thrown as Error).message).not.toContain(PASSWORD);
  });

  it('names a PEM file that holds no certificate by its path, not its content', () => {
    const at = file('bad-ca.pem', `${PASSWORD}\n`);
    expect(() => loadConfig({ DATABASE_SSL_MODE: 'verify-ca', DATABASE_SSL_CA_FILE: at })).toThrow(
      `DATABASE_SSL_CA_FILE "${at}" does not hold a PEM certificate`,
    );
  });
});

describe('connection options', () => {
  it('takes the password from DATABASE_PASSWORD, never letting the URL override it', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app@db:6432/bets', DATABASE_PASSWORD: PASSWORD });
    expect(connectionOptions(config)).toMatchObject({
      host: 'db',
      port: 6432,
      user: 'app',
      database: 'bets',
      password: PASSWORD,
      ssl: false,
    });
  });

  it('maps sslmode to TLS options: require does not verify, verify-ca skips the name, verify-full checks the dialled host', () => {
    const base = { DATABASE_URL: 'postgres://app@127.0.0.1/bets', DATABASE_SSL_CA: CERT };
    expect(connectionOptions(loadConfig({ ...base, DATABASE_SSL_MODE: 'require' })).ssl).toMatchObject({
      rejectUnauthorized: false,
    });
    const verifyCa = connectionOptions(loadConfig({ ...base, DATABASE_SSL_MODE: 'verify-ca' })).ssl as {
      checkServerIdentity: (h: string, c: object) => unknown;
    };
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: CERT });
    expect(verifyCa.checkServerIdentity('anything', {})).toBeUndefined();
    const verifyFull = connectionOptions(loadConfig({ ...base, DATABASE_SSL_MODE: 'verify-full' })).ssl as {
      checkServerIdentity: (h: string, c: object) => unknown;
    };
    // pg hands node "localhost" for an IP host; the check must use the host we dialled.
    const error = verifyFull.checkServerIdentity('localhost', {
      subject: { CN: 'localhost' },
      subjectaltname: 'DNS:localhost',
    });
    expect(String(error)).toContain("IP: 127.0.0.1 is not in the cert's list");
  });

  it('passes Kafka TLS material and SASL to kafkajs', () => {
    const config = loadConfig({
      KAFKA_SSL_CA: CERT,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    expect(securityOptions(config)).toEqual({
      ssl: { rejectUnauthorized: true, ca: [CERT] },
      sasl: { mechanism: 'plain', username: 'u', password: PASSWORD },
    });
    expect(securityOptions(loadConfig({}))).toEqual({});
  });
});

describe('connection errors name the setting to fix and are not retried', () => {
  it.each<[string, object, 'database' | 'kafka', string]>([
    [
      'wrong database password',
      { code: '28P01', message: 'password authentication failed for user "w"' },
      'database',
      'check DATABASE_PASSWORD',
    ],
    [
      'pg_hba refuses plaintext',
      { code: '28000', message: 'no pg_hba.conf entry for host' },
      'database',
      'DATABASE_SSL_MODE',
    ],
    [
      'untrusted database certificate',
      { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' },
      'database',
      'DATABASE_SSL_CA_FILE',
    ],
    [
      'wrong Kafka credentials',
      { name: 'KafkaJSSASLAuthenticationError', message: 'SASL SCRAM SHA512 authentication failed' },
      'kafka',
      'KAFKA_SASL_PASSWORD',
    ],
    [
      'untrusted broker certificate, wrapped by kafkajs',
      {
        name: 'KafkaJSNumberOfRetriesExceeded',
        retriable: false,
        cause: {
          name: 'KafkaJSConnectionError',
          retriable: true,
          code: 'SELF_SIGNED_CERT_IN_CHAIN',
          message: 'Connection error: self-signed certificate in certificate chain',
        },
      },
      'kafka',
      'KAFKA_SSL_CA_FILE',
    ],
  ])('%s', (_name, error, side, setting) => {
    expect(explainConnectionError(error, side)).toContain(setting);
  });

  it('classifies credential, privilege and certificate failures as fatal, not retryable', () => {
    expect(classifyError({ code: '28P01' })).toBe('fatal');
    expect(classifyError({ code: '42501' })).toBe('fatal');
    expect(
      classifyError({
        name: 'KafkaJSConnectionError',
        retriable: true,
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      }),
    ).toBe('fatal');
    expect(classifyError({ name: 'KafkaJSSASLAuthenticationError', retriable: false })).toBe('fatal');
    expect(classifyError({ name: 'KafkaJSConnectionError', retriable: true, code: 'ECONNREFUSED' })).toBe(
      'retryable',
    );
  });
});
