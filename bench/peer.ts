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
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { dialectOf } from '../src/db/platform.js';
import { betKey, type BetEvent } from '../src/events/types.js';
import { encodeEvent } from '../src/kafka/publisher.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { connectPaths, rowMessages, startConnect, type Reader } from './kafkaConnect.js';
import { fillTopicWith, peakRssMb, PROJECTED_TABLES, workerProcess, type BenchContext } from './parts.js';
import { cpuMs } from './cpu.js';
import { figure, spread, type Figure } from './stats.js';

const PEER_TABLE = 'bench_peer_bets_view';
/** The sink's settings as measured in the issue that asked for the peer: upsert, one task. */
const SINK_BATCH_SIZE = 3_000;
/** fillTopicWith's partition count, for the report. */
const PARTITIONS = 6;

const SHARED_COLUMNS = `tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, currency, status,
  payout, version, last_event_type, placed_at, last_updated_timestamp`;
const CREATE_PEER_TABLE = `CREATE TABLE ${PEER_TABLE}
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
  /** Where both wrote: the database platform of the bench's DATABASE_URL. */
  readonly platform: string;
  readonly worker: ReaderFigures;
  readonly connect: ReaderFigures;
  /** Rows where the peer's table and the worker's bets_view differ, after each pair of runs: 0. */
  readonly differingRows: number[];
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
  await fillTopicWith(
    ctx,
    eventsTopic,
    all.map((e) => encodeEvent(e)),
  );
  await fillTopicWith(ctx, rowsTopic, rowMessages(all));
  await createPeerTable(ctx.pool);

  const worker: Run[] = [];
  const peer: Run[] = [];
  const differingRows: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    await ctx.pool.query(`TRUNCATE ${PROJECTED_TABLES}`);
    worker.push(
      await measure(ctx, 'bets_view', target, () => startWorker(ctx, eventsTopic, `${eventsTopic}-${run}`)),
    );
    await ctx.pool.query(`TRUNCATE ${PEER_TABLE}`);
    peer.push(
      await measure(ctx, PEER_TABLE, target, () =>
        startConnect(ctx, connect, {
          topic: rowsTopic,
          name: `peer-${stamp}-${run}`,
          table: PEER_TABLE,
          batchSize: SINK_BATCH_SIZE,
        }),
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
    platform: dialectOf(ctx.pool).platform,
    worker: figures(worker),
    connect: figures(peer),
    differingRows,
  };
}

/**
 * The sink's table, shaped like bets_view and, on Citus, distributed as it is (colocated by
 * tenant_id): the sink writes through the coordinator to the shards as the worker does.
 */
async function createPeerTable(pool: Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${PEER_TABLE}`);
  await pool.query(CREATE_PEER_TABLE);
  for (const statement of dialectOf(pool).colocate(PEER_TABLE, 'bets_view')) await pool.query(statement);
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
  const child = workerProcess(ctx, topic, group);
  return { child, diagnose: () => "its log is on the bench's stderr" };
}

/** The side-by-side table, with the ratios the issue set targets on (worker / peer, medians). */
export function peerMarkdown(f: PeerFigures | undefined): string {
  if (!f) return '';
  const ratio = (a: Figure, b: Figure) => `${(a.median / b.median).toFixed(2)}×`;
  const row = (label: string, pick: (r: ReaderFigures) => Figure, digits = 0, r?: string) =>
    `| ${label} | ${spread(pick(f.worker), digits)} | ${spread(pick(f.connect), digits)} | ${r ?? ratio(pick(f.worker), pick(f.connect))} |`;
  return `${[
    '',
    `The worker at its defaults against ${f.peer}, both writing to ${f.platform}: ${f.events} events, ${f.bets} bets, ${f.partitions} partitions, alternating runs, each from process start until the table held every bet at its latest version:`,
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
