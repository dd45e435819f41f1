/**
 * Turns a failed connection into one line that names the setting to fix. The messages are built
 * from error codes and the server's own text, which never carries a password; nothing here reads
 * a secret.
 */

/** node's codes for a peer certificate that does not verify. */
export const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export type ConnectionSide = 'database' | 'kafka';

interface ErrorShape {
  readonly code?: unknown;
  readonly name?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

function shape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? error : {};
}

function firstLine(message: unknown): string {
  return typeof message === 'string' ? (message.split('\n')[0] ?? '') : '';
}

function databaseAdvice(e: ErrorShape): string | undefined {
  const message = firstLine(e.message);
  if (e.code === '28P01') {
    return `PostgreSQL rejected the password (check DATABASE_PASSWORD / DATABASE_PASSWORD_FILE or DATABASE_URL): ${message}`;
  }
  if (e.code === '28000') {
    return `PostgreSQL refused the connection (check DATABASE_URL user and DATABASE_SSL_MODE): ${message}`;
  }
  if (typeof e.code === 'string' && TLS_VERIFY_CODES.has(e.code)) {
    return `PostgreSQL server certificate not accepted (check DATABASE_SSL_CA_FILE and DATABASE_SSL_MODE): ${e.code}: ${message}`;
  }
  if (/server does not support SSL/i.test(message)) {
    return `PostgreSQL server does not accept TLS (check DATABASE_SSL_MODE): ${message}`;
  }
  return undefined;
}

function kafkaAdvice(e: ErrorShape): string | undefined {
  const message = firstLine(e.message);
  if (e.name === 'KafkaJSSASLAuthenticationError' || /SASL .*authentication failed/i.test(message)) {
    return `Kafka SASL authentication failed (check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM): ${message}`;
  }
  if (/SASL mechanism|UnsupportedSaslMechanism|IllegalSaslState/i.test(message)) {
    return `Kafka broker does not accept this SASL setup (check KAFKA_SASL_MECHANISM): ${message}`;
  }
  if (typeof e.code === 'string' && TLS_VERIFY_CODES.has(e.code)) {
    return `Kafka broker certificate not accepted (check KAFKA_SSL_CA_FILE): ${e.code}: ${message}`;
  }
  return undefined;
}

/** One line naming the setting to check, or undefined when the error is not about connecting. */
export function explainConnectionError(error: unknown, side: ConnectionSide): string | undefined {
  // kafkajs wraps the last attempt's error; look through causes (bounded: causes can be cyclic).
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const e = shape(current);
    const advice = side === 'database' ? databaseAdvice(e) : kafkaAdvice(e);
    if (advice) return advice;
    current = e.cause;
  }
  return undefined;
}
