/**
 * `bench --only tracing`: what traces cost the worker end to end. The topic is filled as traced
 * producers fill it — every message carries a W3C traceparent, one per append of 100 events, one
 * append in a hundred sampled — and one worker at the defaults drains it with traces off, then on
 * (OTLP/HTTP protobuf to a collector stand-in in this process, parentbased_traceidratio 0.01),
 * alternating run by run. The figure is on / off of the medians.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeEvent } from '../src/kafka/publisher.js';
import { simulateEvents } from '../src/simulate/generator.js';
import { benchEndToEnd, fillTopicWith, type BenchContext, type EndToEndResult } from './parts.js';
import { figure, type Figure } from './stats.js';

export interface TracingFigures {
  readonly events: number;
  readonly samplingRatio: number;
  readonly off: Figure;
  readonly on: Figure;
  /** on / off of the medians: the target is ≥ 0.95. */
  readonly ratio: number;
  readonly exportedBytes: number;
  readonly exportRequests: number;
}

const RATIO = 0.01;
const EVENTS_PER_APPEND = 100;

/** A collector stand-in: accepts every export, counts what arrived. */
async function collectorSink(): Promise<{
  url: string;
  bytes: () => number;
  requests: () => number;
  close(): Promise<void>;
}> {
  let bytes = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bytes: () => bytes,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function tracedMessages(ctx: BenchContext, count: number) {
  const events = [
    ...simulateEvents({
      seed: 700,
      events: count,
      tenants: 50,
      openBets: 5_000,
      v2Share: ctx.v2Share,
      now: Date.now,
    }),
  ];
  let traceparent = '';
  return events.map((e, i) => {
    if (i % EVENTS_PER_APPEND === 0) {
      const sampled = Math.random() < RATIO ? '01' : '00';
      traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-${sampled}`;
    }
    return encodeEvent(e, { traceparent });
  });
}

export async function benchTracing(ctx: BenchContext, count: number): Promise<TracingFigures> {
  const topic = `bench-tracing-${Date.now()}`;
  ctx.log(`filling ${topic} with ${count} events carrying traceparent (${RATIO} sampled)...`);
  await fillTopicWith(ctx, topic, tracedMessages(ctx, count));
  const sink = await collectorSink();
  const once = { ...ctx, runs: 1 };
  const flush = { maxEvents: 100, intervalMs: 100 };
  const traced = {
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(RATIO),
  };
  const off: number[] = [];
  const on: number[] = [];
  const rate = (r: EndToEndResult) => r.eventsPerSecond.median;
  try {
    for (let run = 0; run < ctx.runs; run++) {
      off.push(rate(await benchEndToEnd(once, topic, count, 1, flush)));
      on.push(rate(await benchEndToEnd(once, topic, count, 1, flush, traced)));
      ctx.log(`tracing run ${run + 1}: off ${off.at(-1)} events/s, on ${on.at(-1)} events/s`);
    }
  } finally {
    await sink.close();
  }
  const offFigure = figure(off);
  const onFigure = figure(on);
  return {
    events: count,
    samplingRatio: RATIO,
    off: offFigure,
    on: onFigure,
    ratio: Math.round((onFigure.median / offFigure.median) * 1000) / 1000,
    exportedBytes: sink.bytes(),
    exportRequests: sink.requests(),
  };
}
