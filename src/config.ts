/**
 * One validated, frozen configuration object, read from the environment once at start.
 * Every error names the variable and the value, so an operator can fix a Deployment from the log line.
 */

import { ConfigError, boolean, oneOf, raw, valueOrFile, type Env } from './configEnv.js';
import {
  databasePassword,
  databaseSsl,
  describeTls,
  kafkaSasl,
  kafkaTls,
  type DatabaseSsl,
  type KafkaSasl,
  type KafkaTls,
} from './security/settings.js';

export const DEFAULT_FLUSH_MAX_EVENTS = 100;
/**
 * Off by default: on loopback the saved read is worth less than the memory it holds. Turn it on
 * (20,000 covers a few thousand open bets per worker) where the database is across a network and
 * a read round trip costs more (docs/configuration.md).
 */
const DEFAULT_VIEW_ROW_CACHE_SIZE = 0;
export const DEFAULT_FLUSH_INTERVAL_MS = 100;
/**
 * A caught-up partition's flush waits this long after its first event, not FLUSH_INTERVAL_MS:
 * nothing more is on the broker to wait for, and a flush in progress keeps gathering what arrives
 * (consumers/batchBuffer.ts). docs/benchmarks.md has the measured latencies.
 */
const DEFAULT_FLUSH_LINGER_MS = 5;
/**
 * Flushes a worker runs at once, its partitions sharing them. Fewer than its partitions: while it is
 * caught up its transactions are fewer and larger; with a backlog more than one is in flight
 * (docs/benchmarks.md has the measurements that chose it).
 */
const DEFAULT_FLUSH_LANES = 2;
/**
 * Append transactions a process runs at once; concurrent appends beyond them share the next one
 * (src/store/groupCommit.ts), up to a group's events (docs/benchmarks.md chose them).
 */
export const DEFAULT_APPEND_MAX_TRANSACTIONS = 2;
export const DEFAULT_APPEND_GROUP_MAX_EVENTS = 1_000;
const DEFAULT_TOPIC = 'bet-events';
const DEFAULT_GROUP_ID = 'bet-projector';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** Kafka's compression codecs, as KAFKA_COMPRESSION names them. */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];
/**
 * What the publisher writes by default: zstd — about as small as gzip at the cost of lz4 or snappy
 * for the publisher and the worker, where gzip costs the worker much more (docs/benchmarks.md). Any broker ≥ 2.1 and any maintained client reads it; the worker reads every codec
 * whatever this says.
 */
export const DEFAULT_KAFKA_COMPRESSION: KafkaCompression = 'zstd';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface Config {
  readonly databaseUrl: string;
  /** From DATABASE_PASSWORD(_FILE); when unset, the password in DATABASE_URL (if any) is used. */
  readonly databasePassword?: string;
  readonly databaseSsl: DatabaseSsl;
  readonly dbPoolMax: number;
  readonly kafkaBrokers: readonly string[];
  readonly kafkaClientId: string;
  readonly kafkaSsl: KafkaTls | null;
  readonly kafkaSasl: KafkaSasl | null;
  readonly topic: string;
  readonly topicPartitions: number;
  readonly groupId: string;
  readonly publishEvents: boolean;
  readonly flushMaxEvents: number;
  /**
   * Flush size while a partition has a backlog; equal to flushMaxEvents turns adaptive sizing off.
   * Unset: the platform's default (backlogFlushSize).
   */
  readonly flushBacklogMaxEvents: number | undefined;
  readonly flushIntervalMs: number;
  /** How long a caught-up partition's flush waits after its first event (≤ flushIntervalMs). */
  readonly flushLingerMs: number;
  /** How many flushes a worker runs at once; its partitions share them (consumers/partitions.ts). */
  readonly flushLanes: number;
  readonly partitionsConsumedConcurrently: number;
  /** bets_view rows a worker remembers between flushes instead of reading them back; 0 = none. */
  readonly viewRowCacheSize: number;
  readonly kafkaSessionTimeoutMs: number;
  /** The least time between two Kafka offset commits of a worker (consumers/offsetCommits.ts). */
  readonly kafkaOffsetCommitIntervalMs: number;
  readonly kafkaMaxBytesPerPartition: number;
  readonly kafkaCompression: KafkaCompression;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly retryMaxAttempts: number;
  /** An append's publish gives up this long after it began, whatever attempts remain. */
  readonly publishDeadlineMs: number;
  /** Append transactions in flight at once; concurrent appends beyond them share transactions. */
  readonly appendMaxTransactions: number;
  /** The most events one shared append transaction takes. */
  readonly appendGroupMaxEvents: number;
  readonly shutdownTimeoutMs: number;
  readonly httpPort: number;
  readonly livenessTimeoutMs: number;
  /** A partition with messages beyond its checkpoint and no batch for this long restarts the consumer; 0: never. */
  readonly consumerStallTimeoutMs: number;
  readonly sweepIntervalMs: number;
  readonly sweepWindowMs: number;
  readonly sweepGraceMs: number;
  /** Where `rebuild` and `repair` push their metrics while they run; unset: not pushed. */
  readonly pushgatewayUrl: string | undefined;
  readonly logLevel: LogLevel;
  /** Traces (the standard OTEL_* variables); undefined: off. */
  readonly tracing: TracingSettings | undefined;
  /** Fault injection for the fault suite (PROJECTOR_FAULTS); never set in production. */
  readonly faults: Faults | undefined;
  /**
   * The bench's A/B of what the followers cost (PROJECTOR_BENCH_BETS_VIEW_ALONE): the worker keeps
   * bets_view alone and its followers stop moving with it. Never in production.
   */
  readonly benchBetsViewAlone: boolean;
}

/** PROJECTOR_FAULTS, parsed: what the worker does to itself after each flush's DB commit. */
export interface Faults {
  /** Exit 137 (as SIGKILL would) after this many commits, before the offset commit; 0: never. */
  readonly crashAfterDbCommit: number;
  /** Sleep this long after each commit, before the offset commit. */
  readonly slowFlushMs: number;
}

export { ConfigError };

export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** What the OTEL_* variables ask of traces, checked; the exporter reads its own headers and timeouts. */
export interface TracingSettings {
  readonly protocol: (typeof OTLP_PROTOCOLS)[number];
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  readonly endpoint: string;
  readonly serviceName: string;
  readonly sampler: TracesSampler;
  /** The ratio of the traceidratio samplers, 0..1. */
  readonly samplerRatio: number;
}

/** Plain PostgreSQL, or a Citus coordinator: what the database reports once at start (src/db/platform.ts). */
export type Platform = 'postgres' | 'citus';

const MIN_STALL_TIMEOUT_MS = 5_000;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name} "${value}" is not a whole number`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) {
    throw new ConfigError(`${name} ${value} is out of range (${min}..${max})`);
  }
  return parsed;
}

/** Off (0) or long enough that a slow fetch is not taken for a stuck consumer. */
function stallTimeout(env: Env): number {
  const value = integer(env, 'CONSUMER_STALL_TIMEOUT_MS', 60_000, 0, 3_600_000);
  if (value > 0 && value < MIN_STALL_TIMEOUT_MS) {
    throw new ConfigError(
      `CONSUMER_STALL_TIMEOUT_MS ${value} is below ${MIN_STALL_TIMEOUT_MS} (0 turns the stall watch off)`,
    );
  }
  return value;
}

function name(env: Env, key: string, fallback: string): string {
  const value = raw(env, key) ?? fallback;
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(value)) {
    throw new ConfigError(`${key} "${value}" may only contain letters, digits, ".", "_" and "-"`);
  }
  return value;
}

function brokers(env: Env): string[] {
  const value = raw(env, 'KAFKA_BROKERS') ?? '127.0.0.1:9092';
  const list = value.split(',').map((b) => b.trim());
  for (const broker of list) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      throw new ConfigError(`KAFKA_BROKERS entry "${broker}" is not host:port`);
    }
  }
  return list;
}

/** `value` as a URL of one of `schemes`; errors name the variable, never a password. */
function urlOf(name: string, value: string, schemes: readonly string[], says: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} "${maskUrl(value)}" is not a URL`);
  }
  if (!schemes.includes(url.protocol))
    throw new ConfigError(`${name} scheme "${url.protocol}" is not ${says}`);
  return url;
}

/** An http(s) URL, or undefined when unset. */
function httpUrl(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  urlOf(name, value, ['http:', 'https:'], 'http: or https:');
  return value;
}

/** DATABASE_URL(_FILE): the file form keeps a password that lives in the URL out of the pod spec. */
function databaseUrl(env: Env): URL {
  const value = valueOrFile(env, 'DATABASE_URL')?.trim() ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  return urlOf('DATABASE_URL', value, ['postgres:', 'postgresql:'], 'postgres:');
}

function logLevel(env: Env): LogLevel {
  const value = (raw(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(`LOG_LEVEL "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  return value as LogLevel;
}

/** PROJECTOR_FAULTS: comma-separated `crash-after-db-commit=N`, `slow-flush-ms=N`. */
function faults(env: Env): Faults | undefined {
  const spec = raw(env, 'PROJECTOR_FAULTS');
  if (spec === undefined) return undefined;
  const parsed = { crashAfterDbCommit: 0, slowFlushMs: 0 };
  for (const part of spec.split(',')) {
    const [key, value = ''] = part.split('=');
    if (key !== 'crash-after-db-commit' && key !== 'slow-flush-ms') {
      throw new ConfigError(
        `PROJECTOR_FAULTS "${part}" is not a known fault (crash-after-db-commit=N, slow-flush-ms=N)`,
      );
    }
    if (!/^\d+$/.test(value)) throw new ConfigError(`PROJECTOR_FAULTS "${part}" needs a whole number`);
    if (key === 'crash-after-db-commit') parsed.crashAfterDbCommit = Number(value);
    else parsed.slowFlushMs = Number(value);
  }
  return parsed;
}

/**
 * Traces are on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT), unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none says no.
 * The SDK would log a bad value and carry on with a default; here it stops the start, named.
 */
export function tracingSettings(env: Env): TracingSettings | undefined {
  // Every variable is checked, traces on or off: a typo found the day traces are turned on is late.
  const disabled = boolean(env, 'OTEL_SDK_DISABLED', false);
  const exporter = oneOf(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'none'] as const) ?? 'otlp';
  const tracesEndpoint = httpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = httpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const protocol =
    oneOf(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', OTLP_PROTOCOLS) ??
    oneOf(env, 'OTEL_EXPORTER_OTLP_PROTOCOL', OTLP_PROTOCOLS) ??
    'http/protobuf';
  const sampler = oneOf(env, 'OTEL_TRACES_SAMPLER', TRACES_SAMPLERS) ?? 'parentbased_always_on';
  const ratioText = raw(env, 'OTEL_TRACES_SAMPLER_ARG');
  const samplerRatio = ratioText === undefined ? 1 : Number(ratioText);
  if (!/^\d+(\.\d+)?$/.test(ratioText ?? '1') || samplerRatio > 1) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG "${ratioText}" is not a ratio between 0 and 1`);
  }
  const serviceName = raw(env, 'OTEL_SERVICE_NAME') ?? 'bet-projector';
  if (!/^[\x20-\x7e]{1,255}$/.test(serviceName)) {
    throw new ConfigError(`OTEL_SERVICE_NAME "${serviceName}" must be 1-255 printable ASCII characters`);
  }
  if (disabled || exporter === 'none') return undefined;
  if (tracesEndpoint === undefined && baseEndpoint === undefined) return undefined;
  return {
    protocol,
    endpoint: tracesEndpoint ?? `${baseEndpoint!.replace(/\/$/, '')}/v1/traces`,
    serviceName,
    sampler,
    samplerRatio,
  };
}

/** The backlog flush size in force: FLUSH_BACKLOG_MAX_EVENTS, or the dialect's default. */
export function backlogFlushSize(
  config: Pick<Config, 'flushMaxEvents' | 'flushBacklogMaxEvents'>,
  dialectDefault: number,
): number {
  return config.flushBacklogMaxEvents ?? Math.max(dialectDefault, config.flushMaxEvents);
}

export function loadConfig(env: Env = process.env): Config {
  const retryInitialMs = integer(env, 'RETRY_INITIAL_MS', 100, 1, 60_000);
  const retryMaxMs = integer(env, 'RETRY_MAX_MS', 5_000, 1, 600_000);
  if (retryMaxMs < retryInitialMs) {
    throw new ConfigError(`RETRY_MAX_MS ${retryMaxMs} is below RETRY_INITIAL_MS ${retryInitialMs}`);
  }
  const flushMaxEvents = integer(env, 'FLUSH_MAX_EVENTS', DEFAULT_FLUSH_MAX_EVENTS, 1, 100_000);
  const flushBacklogMaxEvents =
    raw(env, 'FLUSH_BACKLOG_MAX_EVENTS') === undefined
      ? undefined
      : integer(env, 'FLUSH_BACKLOG_MAX_EVENTS', flushMaxEvents, 1, 100_000);
  if (flushBacklogMaxEvents !== undefined && flushBacklogMaxEvents < flushMaxEvents) {
    throw new ConfigError(
      `FLUSH_BACKLOG_MAX_EVENTS ${flushBacklogMaxEvents} is below FLUSH_MAX_EVENTS ${flushMaxEvents}`,
    );
  }
  const flushIntervalMs = integer(env, 'FLUSH_INTERVAL_MS', DEFAULT_FLUSH_INTERVAL_MS, 1, 60_000);
  const flushLingerMs = integer(
    env,
    'FLUSH_LINGER_MS',
    Math.min(DEFAULT_FLUSH_LINGER_MS, flushIntervalMs),
    0,
    60_000,
  );
  if (flushLingerMs > flushIntervalMs) {
    throw new ConfigError(`FLUSH_LINGER_MS ${flushLingerMs} is above FLUSH_INTERVAL_MS ${flushIntervalMs}`);
  }
  const url = databaseUrl(env);
  const password = databasePassword(env, url);
  const tls = kafkaTls(env);
  // Checkpoints are kept under the projection's own name (bets_view): a second name for it was a
  // way to lose track of them. A deployment that set the old variable to another value is told so.
  const legacyName = raw(env, 'PROJECTION_NAME');
  if (legacyName !== undefined && legacyName !== 'bets_view') {
    throw new ConfigError(
      `PROJECTION_NAME "${legacyName}" is no longer read: checkpoints are kept under the projection's name, bets_view (unset it)`,
    );
  }
  return Object.freeze({
    databaseUrl: url.toString(),
    ...(password !== undefined && { databasePassword: password }),
    databaseSsl: databaseSsl(env, url),
    dbPoolMax: integer(env, 'DB_POOL_MAX', 10, 1, 1_000),
    kafkaBrokers: Object.freeze(brokers(env)),
    kafkaClientId: name(env, 'KAFKA_CLIENT_ID', 'bet-projector'),
    kafkaSsl: tls,
    kafkaSasl: kafkaSasl(env, tls),
    topic: name(env, 'KAFKA_TOPIC', DEFAULT_TOPIC),
    topicPartitions: integer(env, 'KAFKA_TOPIC_PARTITIONS', 6, 1, 10_000),
    groupId: name(env, 'KAFKA_GROUP_ID', DEFAULT_GROUP_ID),
    publishEvents: boolean(env, 'PUBLISH_EVENTS', true),
    flushMaxEvents,
    flushBacklogMaxEvents,
    flushIntervalMs,
    flushLingerMs,
    flushLanes: integer(env, 'FLUSH_LANES', DEFAULT_FLUSH_LANES, 1, 1_000),
    partitionsConsumedConcurrently: integer(env, 'PARTITIONS_CONSUMED_CONCURRENTLY', 16, 1, 1_000),
    viewRowCacheSize: integer(env, 'VIEW_ROW_CACHE_SIZE', DEFAULT_VIEW_ROW_CACHE_SIZE, 0, 10_000_000),
    kafkaSessionTimeoutMs: integer(env, 'KAFKA_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000),
    kafkaOffsetCommitIntervalMs: integer(env, 'KAFKA_OFFSET_COMMIT_INTERVAL_MS', 1_000, 0, 60_000),
    kafkaMaxBytesPerPartition: integer(env, 'KAFKA_MAX_BYTES_PER_PARTITION', 262_144, 1_024, 104_857_600),
    kafkaCompression: oneOf(env, 'KAFKA_COMPRESSION', KAFKA_COMPRESSIONS) ?? DEFAULT_KAFKA_COMPRESSION,
    retryInitialMs,
    retryMaxMs,
    retryMaxAttempts: integer(env, 'RETRY_MAX_ATTEMPTS', 20, 1, 1_000),
    publishDeadlineMs: integer(env, 'PUBLISH_DEADLINE_MS', 30_000, 1_000, 3_600_000),
    appendMaxTransactions: integer(env, 'APPEND_MAX_TRANSACTIONS', DEFAULT_APPEND_MAX_TRANSACTIONS, 1, 1_000),
    appendGroupMaxEvents: integer(
      env,
      'APPEND_GROUP_MAX_EVENTS',
      DEFAULT_APPEND_GROUP_MAX_EVENTS,
      1,
      100_000,
    ),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 30_000, 100, 3_600_000),
    httpPort: integer(env, 'HTTP_PORT', 9464, 0, 65_535),
    livenessTimeoutMs: integer(env, 'LIVENESS_TIMEOUT_MS', 120_000, 1_000, 3_600_000),
    consumerStallTimeoutMs: stallTimeout(env),
    sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 60_000, 0, 86_400_000),
    sweepWindowMs: integer(env, 'SWEEP_WINDOW_MS', 3_600_000, 1_000, 30 * 86_400_000),
    sweepGraceMs: integer(env, 'SWEEP_GRACE_MS', 30_000, 0, 86_400_000),
    pushgatewayUrl: httpUrl(env, 'PUSHGATEWAY_URL'),
    logLevel: logLevel(env),
    tracing: tracingSettings(env),
    faults: faults(env),
    benchBetsViewAlone: boolean(env, 'PROJECTOR_BENCH_BETS_VIEW_ALONE', false),
  });
}

/** A connection string with its password replaced, for logs and error messages. */
export function maskUrl(value: string): string {
  return value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** The config as it may be logged: which secrets are set, never their values. */
export function describeConfig(config: Config): Record<string, unknown> {
  const { databasePassword, databaseSsl, kafkaSsl, kafkaSasl, ...rest } = config;
  return {
    ...rest,
    databaseUrl: maskUrl(config.databaseUrl),
    databasePassword: databasePassword === undefined ? 'unset' : 'set',
    databaseSsl: { mode: databaseSsl.mode, ...describeTls(databaseSsl) },
    kafkaSsl: describeTls(kafkaSsl),
    kafkaSasl: kafkaSasl && { mechanism: kafkaSasl.mechanism, username: kafkaSasl.username },
  };
}
