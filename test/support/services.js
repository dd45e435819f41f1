// @ts-check
/**
 * Where the tests find PostgreSQL and Kafka: DATABASE_URL and KAFKA_BROKERS from the environment
 * first; then the local stack of `npm run stack:up` on its default ports; then testcontainers where
 * a Docker engine answers; otherwise a clear error saying what to start.
 *
 * Plain JavaScript because Jest loads globalSetup with Node's own loader, outside its transform.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';

const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** @param {string} hostPort */
function reachable(hostPort, timeoutMs = 1_000) {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at);
  const port = Number(hostPort.slice(at + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    /** @param {boolean} ok */
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function fromTestcontainers() {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const [postgres, kafka] = await Promise.all([
    new PostgreSqlContainer('postgres:15').start(),
    new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start(),
  ]);
  return {
    databaseUrl: postgres.getConnectionUri(),
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    async stop() {
      await Promise.all([postgres.stop(), kafka.stop()]);
    },
  };
}

/**
 * The PostgreSQL the local stack started for a machine without one (scripts/stack.sh, embedded).
 * @param {Record<string, string | undefined>} env
 */
function stackDatabaseUrl(env) {
  const cache = env['BET_PROJECTOR_CACHE'] ?? path.join(homedir(), '.cache', 'bet-projector');
  const file = path.join(cache, 'database-url');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** @returns {Promise<{ databaseUrl: string, kafkaBrokers: string, stop(): Promise<void> }>} */
export async function resolveServices(env = process.env) {
  const noop = async () => undefined;
  if (env['DATABASE_URL'] && env['KAFKA_BROKERS']) {
    return { databaseUrl: env['DATABASE_URL'], kafkaBrokers: env['KAFKA_BROKERS'], stop: noop };
  }
  const databaseUrl = env['DATABASE_URL'] ?? stackDatabaseUrl(env) ?? LOCAL_DATABASE_URL;
  // The local stack's broker, on the port `npm run stack:up` was given (KAFKA_PORT, 9092 by default).
  const kafkaBrokers = env['KAFKA_BROKERS'] ?? `127.0.0.1:${env['KAFKA_PORT'] ?? '9092'}`;
  const pgUrl = new URL(databaseUrl);
  const pgUp = await reachable(`${pgUrl.hostname}:${pgUrl.port || 5432}`);
  const kafkaUp = await reachable(kafkaBrokers.split(',')[0] ?? '');
  if (pgUp && kafkaUp) return { databaseUrl, kafkaBrokers, stop: noop };
  const containers = await fromTestcontainers();
  if (containers) return containers;
  throw new Error(
    `No ${[pgUp ? '' : 'PostgreSQL', kafkaUp ? '' : 'Kafka'].filter(Boolean).join(' or ')} for the integration ` +
      `tests (looked at ${pgUrl.hostname}:${pgUrl.port || 5432} and ${kafkaBrokers}), and no Docker engine ` +
      'answers for testcontainers. Run `npm run stack:up` (or set DATABASE_URL and KAFKA_BROKERS) and try again.',
  );
}
