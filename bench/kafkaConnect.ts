/**
 * Kafka Connect with the Debezium JDBC sink, as the bench's peer runs it (peer.ts): the jars
 * resolved by scripts/connect.sh, a standalone worker started as connect-standalone.sh starts one,
 * and the events as Connect's JsonConverter reads them — each bet's row after the event, with its
 * schema.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEvent } from '../projections/bets/reducer.js';
import type { BetRow } from '../projections/bets/row.js';
import { betKey, type BetEvent } from '../src/events/types.js';
import { freePort } from '../src/freePort.js';
import type { BenchContext } from './parts.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A started reader, and what to say about it if it does not catch up. */
export interface Reader {
  readonly child: ChildProcess;
  readonly diagnose: () => string;
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

export function rowMessages(all: readonly BetEvent[]): Array<{ key: string; value: string }> {
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

export interface ConnectPaths {
  readonly version: string;
  readonly runtime: string;
  readonly plugins: string;
}

export function connectPaths(): ConnectPaths {
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
export async function startConnect(
  ctx: BenchContext,
  paths: ConnectPaths,
  sink: { topic: string; name: string; table: string; batchSize: number },
): Promise<Reader> {
  const { topic, name } = sink;
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
    'collection.name.format': sink.table,
    'batch.size': sink.batchSize,
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
