/**
 * Fault 8, bad operator input: every configuration variable docs/configuration.md documents and every
 * command's options, given missing, malformed or out-of-range values, stop the process with exit 2
 * and one line naming the setting and the value (never a secret's value), and nothing is written.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { runProjector } from '../support/processes.js';

const CONFIGURATION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../docs/configuration.md',
);
const SECRET = 'operator-typo-s3cret';
const ONE_EVENT = JSON.stringify({
  tenant_id: 7,
  aggregate_id: 'bet-1',
  version: 1,
  idempotency_key: 'bet-1-v1',
  event_type: 'V1_BET_PLACED',
  timestamp: 1_790_000_000_000,
  event_data: { user_id: 'u-1', amount: '12.50', odds: '1.85', selection: 'home', currency: 'EUR' },
});

/** The variables of docs/configuration.md's worker table: the contract with operators. */
function documentedVariables(): string[] {
  const text = readFileSync(CONFIGURATION, 'utf8');
  const start = text.indexOf('\n## Worker and CLI\n');
  if (start < 0) throw new Error('docs/configuration.md has no "## Worker and CLI" section');
  const next = text.indexOf('\n## ', start + 1);
  const table = text.slice(start, next < 0 ? undefined : next);
  const names = new Set<string>();
  for (const line of table.split('\n').filter((l) => l.startsWith('| `'))) {
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1]!);
  }
  return [...names];
}

/** variable → [bad value, what the one line must say]. A secret's value must not appear. */
const BAD_VALUES: Record<string, [string, string]> = {
  DATABASE_URL: ['mysql://db/x', 'DATABASE_URL scheme "mysql:" is not postgres:'],
  OTEL_EXPORTER_OTLP_ENDPOINT: [
    'collector:4318',
    'OTEL_EXPORTER_OTLP_ENDPOINT scheme "collector:" is not http: or https:',
  ],
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: [
    'ftp://c/v1/traces',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT scheme "ftp:"',
  ],
  OTEL_EXPORTER_OTLP_PROTOCOL: [
    'grpc',
    'OTEL_EXPORTER_OTLP_PROTOCOL "grpc" is not one of http/protobuf, http/json',
  ],
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ['http', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL "http" is not one of'],
  OTEL_SERVICE_NAME: ['bet\tprojector', 'OTEL_SERVICE_NAME "bet\tprojector" must be 1-255 printable'],
  OTEL_TRACES_SAMPLER: ['sometimes', 'OTEL_TRACES_SAMPLER "sometimes" is not one of'],
  OTEL_TRACES_SAMPLER_ARG: ['2', 'OTEL_TRACES_SAMPLER_ARG "2" is not a ratio between 0 and 1'],
  OTEL_TRACES_EXPORTER: ['zipkin', 'OTEL_TRACES_EXPORTER "zipkin" is not one of otlp, none'],
  OTEL_SDK_DISABLED: ['maybe', 'OTEL_SDK_DISABLED "maybe" is not a boolean'],
  DATABASE_PASSWORD: [SECRET, 'DATABASE_PASSWORD is set and DATABASE_URL has a password too'],
  DATABASE_SSL_MODE: ['prefer', 'DATABASE_SSL_MODE "prefer" is not one of'],
  DATABASE_SSL_CA: ['not-a-pem', 'DATABASE_SSL_CA does not hold a PEM certificate'],
  DATABASE_SSL_CERT: ['not-a-pem', 'DATABASE_SSL_CERT does not hold a PEM certificate'],
  DATABASE_SSL_KEY: [SECRET, 'DATABASE_SSL_KEY does not hold a PEM private key'],
  DB_POOL_MAX: ['0', 'DB_POOL_MAX 0 is out of range'],
  KAFKA_BROKERS: ['kafka', 'KAFKA_BROKERS entry "kafka" is not host:port'],
  KAFKA_CLIENT_ID: ['my client', 'KAFKA_CLIENT_ID "my client" may only contain'],
  KAFKA_SSL: ['maybe', 'KAFKA_SSL "maybe" is not a boolean'],
  KAFKA_SSL_CA: ['not-a-pem', 'KAFKA_SSL_CA does not hold a PEM certificate'],
  KAFKA_SSL_CERT: ['not-a-pem', 'KAFKA_SSL_CERT does not hold a PEM certificate'],
  KAFKA_SSL_KEY: [SECRET, 'KAFKA_SSL_KEY does not hold a PEM private key'],
  KAFKA_SSL_KEY_PASSWORD: [SECRET, 'KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY'],
  KAFKA_SASL_MECHANISM: [
    'gssapi',
    'KAFKA_SASL_MECHANISM "gssapi" is not one of plain, scram-sha-256, scram-sha-512',
  ],
  KAFKA_SASL_USERNAME: ['projector', 'KAFKA_SASL_USERNAME/PASSWORD are set without KAFKA_SASL_MECHANISM'],
  KAFKA_SASL_PASSWORD: [SECRET, 'KAFKA_SASL_USERNAME/PASSWORD are set without KAFKA_SASL_MECHANISM'],
  KAFKA_TOPIC: ['bet events', 'KAFKA_TOPIC "bet events" may only contain'],
  PUSHGATEWAY_URL: ['ftp://gateway', 'PUSHGATEWAY_URL scheme "ftp:" is not http: or https:'],
  KAFKA_COMPRESSION: ['brotli', 'KAFKA_COMPRESSION "brotli" is not one of none, gzip, snappy, lz4, zstd'],
  KAFKA_TOPIC_PARTITIONS: ['0', 'KAFKA_TOPIC_PARTITIONS 0 is out of range'],
  KAFKA_GROUP_ID: ['a/b', 'KAFKA_GROUP_ID "a/b" may only contain'],
  PROJECTION_NAME: ['other_view', 'PROJECTION_NAME "other_view" is no longer read'],
  PUBLISH_EVENTS: ['sometimes', 'PUBLISH_EVENTS "sometimes" is not a boolean'],
  FLUSH_MAX_EVENTS: ['lots', 'FLUSH_MAX_EVENTS "lots" is not a whole number'],
  FLUSH_INTERVAL_MS: ['0', 'FLUSH_INTERVAL_MS 0 is out of range'],
  FLUSH_LINGER_MS: ['500', 'FLUSH_LINGER_MS 500 is above FLUSH_INTERVAL_MS 100'],
  FLUSH_LANES: ['0', 'FLUSH_LANES 0 is out of range'],
  FLUSH_BACKLOG_MAX_EVENTS: ['10', 'FLUSH_BACKLOG_MAX_EVENTS 10 is below FLUSH_MAX_EVENTS 100'],
  PARTITIONS_CONSUMED_CONCURRENTLY: ['-1', 'PARTITIONS_CONSUMED_CONCURRENTLY "-1" is not a whole number'],
  VIEW_ROW_CACHE_SIZE: ['-1', 'VIEW_ROW_CACHE_SIZE "-1" is not a whole number'],
  KAFKA_SESSION_TIMEOUT_MS: ['100', 'KAFKA_SESSION_TIMEOUT_MS 100 is out of range'],
  KAFKA_MAX_BYTES_PER_PARTITION: ['1', 'KAFKA_MAX_BYTES_PER_PARTITION 1 is out of range'],
  KAFKA_OFFSET_COMMIT_INTERVAL_MS: ['90000', 'KAFKA_OFFSET_COMMIT_INTERVAL_MS 90000 is out of range'],
  RETRY_INITIAL_MS: ['0', 'RETRY_INITIAL_MS 0 is out of range'],
  RETRY_MAX_MS: ['1.5', 'RETRY_MAX_MS "1.5" is not a whole number'],
  PUBLISH_DEADLINE_MS: ['500', 'PUBLISH_DEADLINE_MS 500 is out of range'],
  APPEND_MAX_TRANSACTIONS: ['0', 'APPEND_MAX_TRANSACTIONS 0 is out of range'],
  APPEND_GROUP_MAX_EVENTS: ['many', 'APPEND_GROUP_MAX_EVENTS "many" is not a whole number'],
  RETRY_MAX_ATTEMPTS: ['0', 'RETRY_MAX_ATTEMPTS 0 is out of range'],
  SHUTDOWN_TIMEOUT_MS: ['soon', 'SHUTDOWN_TIMEOUT_MS "soon" is not a whole number'],
  HTTP_PORT: ['70000', 'HTTP_PORT 70000 is out of range'],
  LIVENESS_TIMEOUT_MS: ['1', 'LIVENESS_TIMEOUT_MS 1 is out of range'],
  CONSUMER_STALL_TIMEOUT_MS: ['100', 'CONSUMER_STALL_TIMEOUT_MS 100 is below 5000'],
  SWEEP_INTERVAL_MS: ['1m', 'SWEEP_INTERVAL_MS "1m" is not a whole number'],
  SWEEP_WINDOW_MS: ['0', 'SWEEP_WINDOW_MS 0 is out of range'],
  SWEEP_GRACE_MS: ['-5', 'SWEEP_GRACE_MS "-5" is not a whole number'],
  LOG_LEVEL: ['loud', 'LOG_LEVEL "loud" is not one of'],
  PROJECTOR_FAULTS: ['explode=1', 'PROJECTOR_FAULTS "explode=1" is not a known fault'],
  PROJECTOR_BENCH_BETS_VIEW_ALONE: ['1x', 'PROJECTOR_BENCH_BETS_VIEW_ALONE "1x" is not a boolean'],
};

/** Also for every secret: its _FILE form pointing nowhere. */
const FILE_FORMS = [
  'DATABASE_URL',
  'DATABASE_PASSWORD',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_CA',
];

/** command line → what the one line must say. */
const BAD_COMMANDS: Array<[string[], string]> = [
  [['frobnicate'], 'unknown command "frobnicate"'],
  [['worker', '--bogus'], "Unknown option '--bogus'"],
  [['worker', 'extra'], "Unexpected argument 'extra'"],
  [['migrate', '--bogus'], "Unknown option '--bogus'"],
  [['append', '--batch-size', '0'], '--batch-size 0 is out of range'],
  [['append', '--file', '/nonexistent/events.jsonl'], '--file "/nonexistent/events.jsonl"'],
  [['simulate', '--events', '-5'], '--events "-5" is not a whole number'],
  [['simulate', '--rate', 'fast'], '--rate "fast" is not a whole number'],
  [['simulate', '--duplicate-rate', '2'], '--duplicate-rate "2" is not a fraction'],
  [['rebuild', '--chunks', '0'], '--chunks 0 is out of range'],
  [['rebuild', '--strategy', 'magic'], '--strategy "magic" is not set or copy'],
  [['rebuild', '--concurrency', 'many'], '--concurrency "many" is not a whole number'],
  [['lag', '--since', 'yesterday'], '--since "yesterday" is not a duration'],
  [['lag', '--tenant', 'abc'], '--tenant "abc" is not a whole number'],
  [['lag', '--fail-over', '-1'], '--fail-over "-1" is not a whole number'],
  [['repair', '--batch-size', '0'], '--batch-size 0 is out of range'],
  [['repair', '--bet'], "Option '--bet <value>' argument missing"],
  [['dlq', 'purge'], 'action "purge" is not list or replay'],
  [['dlq', 'replay', '--limit', 'x'], '--limit "x" is not a whole number'],
  [['bench', '--runs', '0'], '--runs 0 is out of range'],
  [['demo', '--partitions', '0'], '--partitions 0 is out of range'],
];

describe('bad operator input', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const limit = pLimit(4);
  beforeAll(async () => {
    db = await createTestDatabase();
    env = {
      DATABASE_URL: db.workerUrl,
      KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
      PUBLISH_EVENTS: 'false',
    };
  });
  afterAll(async () => db.drop());

  const nothingWritten = async () => {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM bet_events) + (SELECT count(*) FROM bets_view)
            + (SELECT count(*) FROM projection_checkpoints) + (SELECT count(*) FROM dead_letters)
            + (SELECT count(*) FROM pg_class WHERE relname IN ('bets_view_rebuild', 'bets_view_retired')) AS n`,
    );
    expect(Number(rows[0]!.n)).toBe(0);
  };

  const expectOneLine = (run: { code: number | null; stderr: string; stdout: string }, says: string) => {
    expect({ code: run.code, lines: run.stderr.trim().split('\n').length, stdout: run.stdout }).toEqual({
      code: 2,
      lines: 1,
      stdout: '',
    });
    expect(run.stderr).toContain(says);
    expect(run.stderr).not.toContain(SECRET);
  };

  it('covers every variable of the docs/configuration.md table', () => {
    expect(documentedVariables().filter((name) => !(name in BAD_VALUES))).toEqual([]);
  });

  it('every configuration variable with a bad value: exit 2, one line naming it, nothing written', async () => {
    // (DATABASE_PASSWORD is refused because the worker's URL carries a password already.)
    const cases = Object.entries(BAD_VALUES).map(([name, [value, says]]) => ({ name, value, says }));
    const runs = await Promise.all(
      cases.map((c) =>
        limit(async () => ({
          c,
          run: await runProjector(['append'], { ...env, [c.name]: c.value }, ONE_EVENT),
        })),
      ),
    );
    for (const { c, run } of runs) {
      expect(`${c.name}=${c.value} → ${run.stderr.trim()}`).toContain(c.says);
      expectOneLine(run, c.says);
    }
    await nothingWritten();
  });

  it('every secret read from a file that is missing: named by its _FILE variable and path', async () => {
    const runs = await Promise.all(
      FILE_FORMS.map((name) =>
        limit(async () => ({
          name,
          run: await runProjector(
            ['append'],
            { ...env, [`${name}_FILE`]: `/run/secrets/missing-${name}` },
            ONE_EVENT,
          ),
        })),
      ),
    );
    for (const { name, run } of runs) {
      // DATABASE_URL_FILE conflicts with the DATABASE_URL already set: also a one-line refusal.
      const says =
        name === 'DATABASE_URL'
          ? 'DATABASE_URL and DATABASE_URL_FILE are both set'
          : `${name}_FILE "/run/secrets/missing-${name}" cannot be read (ENOENT)`;
      expectOneLine(run, says);
    }
    const { DATABASE_URL: url, ...withoutUrl } = env;
    expect(url).toBeDefined();
    expectOneLine(
      await runProjector(
        ['append'],
        { ...withoutUrl, DATABASE_URL_FILE: '/run/secrets/missing-url' },
        ONE_EVENT,
      ),
      'DATABASE_URL_FILE "/run/secrets/missing-url" cannot be read (ENOENT)',
    );
    await nothingWritten();
  });

  it('every command with a bad option: exit 2, one line naming the option and the value, nothing written', async () => {
    const runs = await Promise.all(
      BAD_COMMANDS.map(([args, says]) =>
        limit(async () => ({ args, says, run: await runProjector(args, env, ONE_EVENT) })),
      ),
    );
    for (const { args, says, run } of runs) {
      expect(`${args.join(' ')} → ${run.stderr.trim()}`).toContain(says);
      expectOneLine(run, says);
    }
    // A topic that does not exist is a setting to fix, not a failure to retry.
    expectOneLine(
      await runProjector(['worker'], { ...env, KAFKA_TOPIC: 'no-such-topic-here', HTTP_PORT: '0' }),
      'KAFKA_TOPIC "no-such-topic-here" does not exist',
    );
    await nothingWritten();
  });
});
