/**
 * The peer: Kafka Connect (standalone) with the Debezium JDBC sink, the tool a platform team would
 * otherwise reach for, resolved from Maven Central by scripts/connect.sh. It is fed the same events
 * as the worker — each as the bet's row after it, in the schema'd JSON envelope Connect's
 * JsonConverter reads — and both readers are measured the same way, in alternating runs: from
 * process start until the table holds every bet at its latest version.
 *
 * The sink does less than the worker: no fold (the row state is computed here, by the producer), no
 * version guard (it is right only because a bet's events stay in order within one partition), no
 * checkpoint in the database, no user_exposure. It writes a table shaped like bets_view.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Partitioners } from 'kafkajs';
import { applyEvent } from '../../projections/bets/reducer.js';
import type { BetRow } from '../../projections/bets/row.js';
import { betKey, type BetEvent } from '../events/types.js';
import { freePort } from '../freePort.js';
import { encodeEvent } from '../kafka/publisher.js';
import { ensureTopic } from '../kafka/topics.js';
import { simulateEvents } from '../simulate/generator.js';
import { CLI, cpuMs, peakRssMb, WORKER_NODE_FLAGS, type BenchContext } from './parts.js';
import { figure, spread, type Figure } from './stats.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PEER_TABLE = 'bench_peer_bets_view';
/** The sink's settings as measured in the issue that asked for the peer: upsert, one task. */
const SINK_BATCH_SIZE = 3_000;
const PARTITIONS = 6;

const SHARED_COLUMNS = `tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, currency, status,
  payout, version, last_event_type, placed_at, last_updated_timestamp`;
const CREATE_PEER_TABLE = `CREATE TABLE IF NOT EXISTS ${PEER_TABLE}
  (LIKE bets_view INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE)`;
/** Rows of the peer's table that differ from the worker's bets_view in a column both write. */
const PEER_DIFFERENCES = `SELECT count(*)::bigint AS n FROM (
  (SELECT ${SHARED_COLUMNS} FROM ${PEER_TABLE} EXCEPT SELECT ${SHARED_COLUMNS} FROM bets_view)
  UNION ALL
  (SELECT ${SHARED_COLUMNS} FROM bets_view EXCEPT SELECT ${SHARED_COLUMNS} FROM ${PEER_TABLE})) d`;
/** Rows and the sum of their versions: every bet at its latest version when both reach the fold's. */
const PROGRESS = (table: string) =>
  `SELECT count(*)::bigint AS rows, coalesce(sum(version), 0)::bigint AS versions FROM ${table}`;

export interface ReaderFigures {
  /** From process start until every bet is at its latest version. */
  readonly caughtUpMs: Figure;
  readonly eventsPerSecond: Figure;
  /** Events per second from the first row in the table to the last: the writing alone. */
  readonly eventsPerSecondWriting: Figure;
  readonly peakRssMb: Figure;
  readonly cpuSeconds: Figure;
}

export interface PeerFigures {
  readonly events: number;
  readonly bets: number;
  readonly partitions: number;
  readonly peer: string;
  readonly worker: ReaderFigures;
  readonly connect: ReaderFigures;
  /** Rows where the peer's table and the worker's bets_view differ, after each pair of runs: 0. */
  readonly differingRows: number[];
}

/** A started reader, and what to say about it if it does not catch up. */
interface Reader {
  readonly child: ChildProcess;
  readonly diagnose: () => string;
}

interface Run {
  caughtUpMs: number;
  writingMs: number;
  peakRssMb: number;
  cpuMs: number;
}

export async function benchPeer(ctx: BenchContext, count: number): Promise<PeerFigures> {
  const connect = connectPaths();
  // The `projector simulate --seed 42` stream at its defaults.
  const all = [...simulateEvents({ seed: 42, events: count, tenants: 20, openBets: 1_000, now: Date.now })];
  const target = finalVersions(all);
  const stamp = Date.now();
  const eventsTopic = `bench-peer-events-${stamp}`;
  const rowsTopic = `bench-peer-rows-${stamp}`;
  ctx.log(`peer: filling ${eventsTopic} and ${rowsTopic} with ${count} events (${target.bets} bets)...`);
  await fill(ctx, eventsTopic, all.map(encodeEvent));
  await fill(ctx, rowsTopic, rowMessages(all));
  await ctx.pool.query(CREATE_PEER_TABLE);

  const worker: Run[] = [];
  const peer: Run[] = [];
  const differingRows: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    await ctx.pool.query('TRUNCATE bets_view, user_exposure, projection_checkpoints, dead_letters');
    worker.push(
      await measure(ctx, 'bets_view', target, () => startWorker(ctx, eventsTopic, `${eventsTopic}-${run}`)),
    );
    await ctx.pool.query(`TRUNCATE ${PEER_TABLE}`);
    peer.push(
      await measure(ctx, PEER_TABLE, target, () =>
        startConnect(ctx, connect, rowsTopic, `peer-${stamp}-${run}`),
      ),
    );
    const { rows } = await ctx.pool.query<{ n: number }>(PEER_DIFFERENCES);
    differingRows.push(Number(rows[0]!.n));
    ctx.log(
      `peer run ${run + 1}: ${differingRows[run]} rows differ; worker ${Math.round(worker[run]!.caughtUpMs)} ms, Connect ${Math.round(peer[run]!.caughtUpMs)} ms`,
    );
  }
  const figures = (runs: Run[]): ReaderFigures => ({
    caughtUpMs: figure(runs.map((r) => Math.round(r.caughtUpMs))),
    eventsPerSecond: figure(runs.map((r) => Math.round((count / r.caughtUpMs) * 1000))),
    eventsPerSecondWriting: figure(runs.map((r) => Math.round((count / r.writingMs) * 1000))),
    peakRssMb: figure(runs.map((r) => r.peakRssMb)),
    cpuSeconds: figure(runs.map((r) => Math.round(r.cpuMs / 100) / 10)),
  });
  return {
    events: count,
    bets: target.bets,
    partitions: PARTITIONS,
    peer: `Kafka Connect ${connect.version} standalone + Debezium JDBC sink 3.0.7.Final (upsert, batch.size ${SINK_BATCH_SIZE}, 1 task)`,
    worker: figures(worker),
    connect: figures(peer),
    differingRows,
  };
}

function finalVersions(all: readonly BetEvent[]): { bets: number; versionSum: number } {
  const latest = new Map<string, number>();
  for (const e of all) {
    const key = betKey(e.tenantId, e.aggregateId);
    latest.set(key, Math.max(latest.get(key) ?? 0, e.version));
  }
  let versionSum = 0;
  for (const v of latest.values()) versionSum += v;
  return { bets: latest.size, versionSum };
}

async function fill(
  ctx: BenchContext,
  topic: string,
  messages: ReadonlyArray<{ key: string; value: string }>,
): Promise<void> {
  await ensureTopic(ctx.kafka, topic, PARTITIONS);
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 2_000)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
  } finally {
    await producer.disconnect();
  }
}

/** Connect's JSON envelope: the row's schema, then the row. Money stays a decimal string. */
const ROW_SCHEMA = {
  type: 'struct',
  name: 'bet_row',
  optional: false,
  fields: [
    { field: 'tenant_id', type: 'int64', optional: false },
    { field: 'bet_id', type: 'string', optional: false },
    { field: 'idempotency_key', type: 'string', optional: true },
    { field: 'user_id', type: 'string', optional: true },
    { field: 'amount', type: 'string', optional: true },
    { field: 'odds', type: 'string', optional: true },
    { field: 'selection', type: 'string', optional: true },
    { field: 'currency', type: 'string', optional: true },
    { field: 'status', type: 'string', optional: false },
    { field: 'payout', type: 'string', optional: true },
    { field: 'version', type: 'int32', optional: false },
    { field: 'last_event_type', type: 'string', optional: false },
    { field: 'placed_at', type: 'string', optional: true },
    { field: 'last_updated_timestamp', type: 'int64', optional: false },
  ],
};

function rowMessages(all: readonly BetEvent[]): Array<{ key: string; value: string }> {
  const state = new Map<string, BetRow>();
  return all.map((e) => {
    const key = betKey(e.tenantId, e.aggregateId);
    const row = applyEvent(state.get(key), e);
    state.set(key, row);
    const payload = {
      tenant_id: row.tenantId,
      bet_id: row.betId,
      idempotency_key: row.idempotencyKey,
      user_id: row.userId,
      amount: row.amount,
      odds: row.odds,
      selection: row.selection,
      currency: row.currency,
      status: row.status,
      payout: row.payout,
      version: row.version,
      last_event_type: row.lastEventType,
      placed_at: row.placedAt === null ? null : new Date(row.placedAt).toISOString(),
      last_updated_timestamp: row.lastUpdatedTimestamp,
    };
    return { key, value: JSON.stringify({ schema: ROW_SCHEMA, payload }) };
  });
}

/** A reader that wrote nothing new for this long has failed (a dead Connect task does not exit). */
const STALL_MS = 120_000;

async function measure(
  ctx: BenchContext,
  table: string,
  target: { bets: number; versionSum: number },
  start: () => Promise<Reader>,
): Promise<Run> {
  const started = performance.now();
  const { child, diagnose } = await start();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let firstRowAt: number | undefined;
  let last = { versions: -1, at: started };
  let peak = 0;
  try {
    for (;;) {
      const { rows } = await ctx.pool.query<{ rows: string; versions: string }>(PROGRESS(table));
      const now = performance.now();
      const written = Number(rows[0]!.rows);
      const versions = Number(rows[0]!.versions);
      if (firstRowAt === undefined && written > 0) firstRowAt = now;
      peak = Math.max(peak, peakRssMb(child.pid!));
      if (written === target.bets && versions === target.versionSum) {
        return {
          caughtUpMs: now - started,
          writingMs: now - (firstRowAt ?? started),
          peakRssMb: Math.max(peak, peakRssMb(child.pid!)),
          cpuMs: cpuMs(child.pid!),
        };
      }
      if (versions !== last.versions) last = { versions, at: now };
      if (child.exitCode !== null || now - last.at > STALL_MS)
        throw new Error(
          `${table}'s reader ${child.exitCode !== null ? `exited with ${child.exitCode}` : `wrote nothing for ${STALL_MS / 1000} s`} (${written} of ${target.bets} bets):\n${diagnose()}`,
        );
      await sleep(200);
    }
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000).then(() => child.kill('SIGKILL'))]);
  }
}

async function startWorker(ctx: BenchContext, topic: string, group: string): Promise<Reader> {
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, CLI, 'worker'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: ctx.databaseUrl,
      KAFKA_BROKERS: ctx.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      HTTP_PORT: '0',
      SWEEP_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { child, diagnose: () => "its log is on the bench's stderr" };
}

interface ConnectPaths {
  readonly version: string;
  readonly runtime: string;
  readonly plugins: string;
}

function connectPaths(): ConnectPaths {
  const script = path.join(ROOT, 'scripts/connect.sh');
  const run = (what: string) =>
    execFileSync('bash', [script, what], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const runtime = run('runtime');
  const version = /connect-([^/]+)\/libs$/.exec(runtime)?.[1] ?? 'unknown';
  return { version, runtime, plugins: run('plugins') };
}

/**
 * Connect as its connect-standalone.sh starts it (heap and GC flags), logging warnings to a file
 * that is printed if it fails. Its REST listener on a free port; offsets in a folder of its own.
 */
async function startConnect(
  ctx: BenchContext,
  paths: ConnectPaths,
  topic: string,
  name: string,
): Promise<Reader> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-connect-'));
  const port = await freePort();
  const log = path.join(dir, 'connect.log');
  const db = new URL(ctx.databaseUrl);
  const jdbc = `jdbc:postgresql://${db.hostname}:${db.port || '5432'}${db.pathname}?stringtype=unspecified`;
  const props = (file: string, entries: Record<string, string | number>) =>
    writeFileSync(
      path.join(dir, file),
      Object.entries(entries)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
  props('worker.properties', {
    'bootstrap.servers': ctx.brokers,
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'true',
    'offset.storage.file.filename': path.join(dir, 'offsets'),
    'plugin.path': paths.plugins,
    listeners: `http://127.0.0.1:${port}`,
  });
  props('sink.properties', {
    name,
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'tasks.max': 1,
    topics: topic,
    'connection.url': jdbc,
    'connection.username': decodeURIComponent(db.username) || 'postgres',
    // The sink refuses an empty password, even where the server asks for none.
    'connection.password': decodeURIComponent(db.password) || 'unused',
    'insert.mode': 'upsert',
    'primary.key.mode': 'record_value',
    'primary.key.fields': 'tenant_id,bet_id',
    'schema.evolution': 'none',
    'collection.name.format': PEER_TABLE,
    'batch.size': SINK_BATCH_SIZE,
  });
  writeFileSync(
    path.join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${log}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    ].join('\n'),
  );
  const child = spawn(
    'java',
    [
      '-Xms256M',
      '-Xmx2G',
      '-server',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`,
      '-cp',
      `${paths.runtime}/*`,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      path.join(dir, 'worker.properties'),
      path.join(dir, 'sink.properties'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const diagnose = () => {
    try {
      return `the end of Kafka Connect's log:\n${readFileSync(log, 'utf8').split('\n').slice(-40).join('\n')}`;
    } catch {
      return 'Kafka Connect wrote no log';
    }
  };
  // The folder goes when the process does; measure() reads the log before it stops the process.
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { child, diagnose };
}

/** The side-by-side table, with the ratios the issue set targets on (worker / peer, medians). */
export function peerMarkdown(f: PeerFigures | undefined): string {
  if (!f) return '';
  const ratio = (a: Figure, b: Figure) => `${(a.median / b.median).toFixed(2)}×`;
  const row = (label: string, pick: (r: ReaderFigures) => Figure, digits = 0, r?: string) =>
    `| ${label} | ${spread(pick(f.worker), digits)} | ${spread(pick(f.connect), digits)} | ${r ?? ratio(pick(f.worker), pick(f.connect))} |`;
  return `${[
    '',
    `The worker at its defaults against ${f.peer}: ${f.events} events, ${f.bets} bets, ${f.partitions} partitions, alternating runs, each from process start until the table held every bet at its latest version:`,
    '',
    '| figure | worker (defaults) | Kafka Connect + JDBC sink | worker / peer |',
    '|---|---|---|---|',
    row('caught up, ms', (r) => r.caughtUpMs, 0, ratio(f.connect.caughtUpMs, f.worker.caughtUpMs)),
    row('end to end, events/s', (r) => r.eventsPerSecond),
    row('once writing (first row to last), events/s', (r) => r.eventsPerSecondWriting),
    row('peak RSS, MB', (r) => r.peakRssMb),
    row('CPU, s', (r) => r.cpuSeconds, 1),
    '',
    `Rows where the two tables differ after each pair of runs: ${f.differingRows.join(', ')}.`,
  ].join('\n')}\n`;
}
