/**
 * kafkajs (no release since 2023) against a maintained pure-JavaScript client,
 * @platformatic/kafka, on this machine: each drains the same topic (written by the publisher with
 * its default codec) from the start, in a process of its own, parsing every value as the worker
 * does; runs alternate. Then once each, a rebalance: a second member joins a paced group (see
 * consumeWith.ts). @platformatic/kafka needs Node ≥ 22.22, so this part runs under Node 24
 * (scripts/with-node.sh 24).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_KAFKA_COMPRESSION } from '../src/config.js';
import { ensureTopic } from '../src/kafka/topics.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { publishAll } from './codecs.js';
import type { BenchContext } from './parts.js';
import { figure, type Figure } from './stats.js';

const CLIENTS = ['kafkajs', 'platformatic'] as const;
type Client = (typeof CLIENTS)[number];
const CONSUME = fileURLToPath(new URL('./consumeWith.js', import.meta.url));
const run = promisify(execFile);

export interface ClientFigures {
  readonly eventsPerSecond: Figure;
  readonly cpuSeconds: Figure;
  readonly peakRssMb: Figure;
  readonly rebalance: Rebalanced;
}

interface Rebalanced {
  seconds: number;
  duplicates: number;
  joinerFirstMs: number | null;
  firstLongestSilenceMs: number;
}

interface Drained {
  eventsPerSecond: number;
  cpuSeconds: number;
  peakRssMb: number;
}

async function consume<T>(ctx: BenchContext, mode: string, client: Client, topic: string, count: number) {
  const { stdout } = await run(process.execPath, [CONSUME, mode, client, ctx.brokers, topic, String(count)], {
    timeout: 10 * 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

export async function benchClients(ctx: BenchContext, count: number): Promise<Record<Client, ClientFigures>> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22)
    throw new Error(
      `the clients part needs Node ≥ 22.22 (this is ${process.version}): bash scripts/with-node.sh 24 npm run bench -- --only clients`,
    );
  const topic = `bench-clients-${Date.now()}`;
  await ensureTopic(ctx.kafka, topic, 6);
  const all = [...simulateEvents({ seed: 901, events: count, tenants: 50, openBets: 5_000, now: Date.now })];
  await publishAll(ctx, topic, DEFAULT_KAFKA_COMPRESSION, all);
  ctx.log(`clients: ${topic} holds ${count} events (${DEFAULT_KAFKA_COMPRESSION})`);
  const runs: Record<Client, Drained[]> = { kafkajs: [], platformatic: [] };
  for (let r = 0; r < ctx.runs; r++) {
    for (const client of CLIENTS) {
      const d = await consume<Drained>(ctx, 'drain', client, topic, count);
      runs[client].push(d);
      ctx.log(
        `clients: ${client} drained ${count} in a process of its own: ${d.eventsPerSecond} events/s, ${d.peakRssMb} MB`,
      );
    }
  }
  const result: Partial<Record<Client, ClientFigures>> = {};
  for (const client of CLIENTS) {
    const rebalance = await consume<Rebalanced>(ctx, 'rebalance', client, topic, count);
    ctx.log(
      `clients: ${client}, a member joining a paced group: first message after ${rebalance.joinerFirstMs} ms, ` +
        `the first member silent ${rebalance.firstLongestSilenceMs} ms, ${rebalance.duplicates} delivered twice, ` +
        `all read in ${rebalance.seconds} s`,
    );
    result[client] = {
      rebalance,
      eventsPerSecond: figure(runs[client].map((d) => d.eventsPerSecond)),
      cpuSeconds: figure(runs[client].map((d) => d.cpuSeconds)),
      peakRssMb: figure(runs[client].map((d) => d.peakRssMb)),
    };
  }
  return result as Record<Client, ClientFigures>;
}
