/**
 * Traces, end to end, as an operator gets them: the CLI's append and worker export over OTLP/HTTP to
 * a real receiver (test/support/otlpReceiver.ts decodes what arrives on the wire, protobuf and
 * JSON, independently of the SDK), and Kafka carries the context between them.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { toEnvelopeJson } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createTestDatabase, requiredEnv } from '../support/db.js';
import { createTopic, readAll, testKafka, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/oracle.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlpReceiver.js';
import { runProjector, startProjector } from '../support/processes.js';

const KIND = { internal: 1, client: 3, producer: 4, consumer: 5 } as const;
const EVENTS = 24;

describe('traces over OTLP/HTTP', () => {
  let kafka: Kafka;
  beforeAll(() => {
    kafka = testKafka();
  });

  let onExit: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await onExit?.();
    onExit = undefined;
  });

  const childrenOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan) =>
    spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
  const named = (spans: readonly ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

  for (const [protocol, contentType] of [
    ['http/protobuf', 'application/x-protobuf'],
    ['http/json', 'application/json'],
  ] as const) {
    it(`${protocol}: append continues the caller's trace into Kafka headers; each flush links to the sends of its events, sampled for them at ratio 0, with its statements as children and its trace the latency's exemplar; verify is one span`, async () => {
      const receiver: OtlpReceiver = await startOtlpReceiver();
      const db = await createTestDatabase();
      try {
        const topic = await createTopic(kafka, 'traces', 3);
        const env = {
          DATABASE_URL: db.workerUrl,
          KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
          KAFKA_TOPIC: topic,
          KAFKA_GROUP_ID: uniqueName('traces'),
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: 'bp-trace-test',
          // Root spans are never sampled: whatever is exported was sampled by a parent or a link.
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0',
          HTTP_PORT: '0',
        };
        const callerTrace = randomBytes(16).toString('hex');
        const callerSpan = randomBytes(8).toString('hex');
        const events = [
          ...simulateEvents({
            seed: protocol.length,
            events: EVENTS,
            tenants: 2,
            now: () => 1_790_000_000_000,
          }),
        ];
        const bets = new Set(events.map((e) => `${e.tenantId}:${e.aggregateId}`)).size;
        const lines = events.map((e) => JSON.stringify(toEnvelopeJson(e))).join('\n');
        const appended = await runProjector(
          ['append', '--batch-size', '8'],
          { ...env, TRACEPARENT: `00-${callerTrace}-${callerSpan}-01` },
          lines,
        );
        expect(appended.stderr).toBe('');
        expect(appended.code).toBe(0);

        // The command's span continues the caller's; three appends under it, a send under each.
        await waitFor('the append spans', () => named(receiver.spans, 'projector append').length === 1);
        const command = named(receiver.spans, 'projector append')[0]!;
        expect(command).toMatchObject({
          traceId: callerTrace,
          parentSpanId: callerSpan,
          serviceName: 'bp-trace-test',
        });
        const appends = childrenOf(receiver.spans, command).filter((s) => s.name === 'append');
        expect(appends).toHaveLength(3);
        const sends = appends.flatMap((a) =>
          childrenOf(receiver.spans, a).filter((s) => s.name === `send ${topic}`),
        );
        expect(sends).toHaveLength(3);
        for (const send of sends) {
          expect(send.kind).toBe(KIND.producer);
          expect(send.attributes['messaging.destination.name']).toBe(topic);
        }
        for (const append of appends) {
          const statements = childrenOf(receiver.spans, append).filter((s) => s.kind === KIND.client);
          expect(statements.map((s) => s.name)).toEqual(expect.arrayContaining(['BEGIN', 'COMMIT']));
          expect(statements.some((s) => String(s.attributes['db.query.text']).includes('bet_events'))).toBe(
            true,
          );
        }

        // Every message carries the W3C context of the send that published it.
        const sendIds = new Set(sends.map((s) => s.spanId));
        const messages = await readAll(kafka, topic, EVENTS);
        for (const message of messages) {
          const [version, traceId, spanId, flags] = (message.headers['traceparent'] ?? '').split('-');
          expect({ version, traceId, flags }).toEqual({ version: '00', traceId: callerTrace, flags: '01' });
          expect(sendIds.has(spanId!)).toBe(true);
        }

        let scraped = '';
        const worker = startProjector(['worker'], env);
        try {
          await waitFor(
            'the view to hold every bet',
            async () => {
              const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bets_view');
              return rows[0]!.n === bets;
            },
            60_000,
          );
          const port = worker.logField('serving /metrics, /healthz, /readyz', 'port') as number;
          const response = await fetch(`http://127.0.0.1:${port}/metrics`);
          expect(response.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
          scraped = await response.text();
        } finally {
          worker.child.kill('SIGTERM');
          expect(await worker.exited).toBe(0);
        }

        // Root flush spans, each linked to sends of the caller's trace; together they carry every event.
        const flushes = named(receiver.spans, 'flush bets_view');
        expect(flushes.length).toBeGreaterThan(0);
        let carried = 0;
        for (const flush of flushes) {
          expect(flush.kind).toBe(KIND.consumer);
          expect(flush.parentSpanId).toBe('');
          expect(flush.traceId).not.toBe(callerTrace);
          expect(flush.links.length).toBeGreaterThan(0);
          for (const link of flush.links) {
            expect(link.traceId).toBe(callerTrace);
            expect(sendIds.has(link.spanId)).toBe(true);
          }
          expect(flush.attributes['messaging.destination.name']).toBe(topic);
          // A flush carries the partitions of its lane: one of them names it, more are listed only.
          const partitions = (flush.attributes['bet_projector.partitions'] as unknown[]).map(String);
          expect(partitions.length).toBeGreaterThan(0);
          for (const p of partitions) expect(['0', '1', '2']).toContain(p);
          expect(flush.attributes['messaging.destination.partition.id']).toBe(
            partitions.length === 1 ? partitions[0] : undefined,
          );
          expect(Number(flush.attributes['bet_projector.offset.last'])).toBeGreaterThanOrEqual(
            Number(flush.attributes['bet_projector.offset.first']),
          );
          expect(Number(flush.attributes['bet_projector.rows_written'])).toBeGreaterThan(0);
          carried += Number(flush.attributes['bet_projector.events']);
          const statements = childrenOf(receiver.spans, flush);
          expect(statements.map((s) => s.name)).toEqual(
            expect.arrayContaining(['BEGIN', 'checkpoints_save', 'COMMIT']),
          );
          expect(statements.every((s) => s.kind === KIND.client && s.statusCode !== 2)).toBe(true);
          expect(
            statements.some((s) => /INSERT INTO bets_view/i.test(String(s.attributes['db.query.text']))),
          ).toBe(true);
        }
        expect(carried).toBe(EVENTS);

        // The latency histogram's exemplars name sampled flushes (OpenMetrics, served with traces on).
        const exemplarTraces = [
          ...scraped.matchAll(
            /^projector_event_to_view_latency_seconds_bucket\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})"\}/gm,
          ),
        ].map((m) => m[1]);
        expect(exemplarTraces.length).toBeGreaterThan(0);
        const flushTraces = new Set(flushes.map((f) => f.traceId));
        for (const traceId of exemplarTraces) expect(flushTraces.has(traceId!)).toBe(true);

        const verified = await runProjector(['verify'], {
          ...env,
          TRACEPARENT: `00-${callerTrace}-${callerSpan}-01`,
        });
        expect(verified.code).toBe(0);
        await waitFor('the verify span', () => named(receiver.spans, 'projector verify').length === 1);
        const verify = named(receiver.spans, 'projector verify')[0]!;
        expect(verify).toMatchObject({ traceId: callerTrace, parentSpanId: callerSpan });
        // Its comparison goes through the pool's own query(): traced as well, once.
        const compared = childrenOf(receiver.spans, verify).filter((s) =>
          /^WITH folded AS \(/.test(String(s.attributes['db.query.text'])),
        );
        expect(compared).toHaveLength(2);

        expect(new Set(receiver.contentTypes)).toEqual(new Set([contentType]));
      } finally {
        await receiver.close();
        await db.drop();
      }
    });
  }

  it('each sweep pass is a root span saying what it found and re-folded, its statements as its children', async () => {
    const receiver = await startOtlpReceiver();
    const db = await createTestDatabase();
    try {
      const topic = await createTopic(kafka, 'swept', 1);
      const env = {
        DATABASE_URL: db.workerUrl,
        KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
        KAFKA_TOPIC: topic,
      };
      // Stored and never published: only the sweep brings them to the view.
      const events = [...simulateEvents({ seed: 31, events: 12, tenants: 1, now: Date.now })];
      const bets = new Set(events.map((e) => e.aggregateId)).size;
      const appended = await runProjector(
        ['append'],
        { ...env, PUBLISH_EVENTS: 'false' },
        events.map((e) => JSON.stringify(toEnvelopeJson(e))).join('\n'),
      );
      expect(appended.code).toBe(0);
      const worker = startProjector(['worker'], {
        ...env,
        KAFKA_GROUP_ID: uniqueName('swept'),
        HTTP_PORT: '0',
        SWEEP_INTERVAL_MS: '1000',
        SWEEP_GRACE_MS: '0',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '1',
      });
      onExit = async () => {
        worker.child.kill('SIGTERM');
        await worker.exited;
      };
      const repairing = () =>
        named(receiver.spans, 'sweep').filter((s) => Number(s.attributes['bet_projector.repaired_bets']) > 0);
      await waitFor('a sweep span that re-folded bets', () => repairing().length > 0, 60_000);
      const sweep = repairing()[0]!;
      expect(sweep.parentSpanId ?? '').toBe('');
      expect(sweep.attributes).toMatchObject({
        'bet_projector.sweep.ran': true,
        'bet_projector.lagging_bets': bets,
        'bet_projector.repaired_bets': bets,
      });
      const statements = childrenOf(receiver.spans, sweep);
      expect(statements.every((s) => s.kind === KIND.client)).toBe(true);
      expect(
        statements.some((s) => /INSERT INTO bets_view/i.test(String(s.attributes['db.query.text']))),
      ).toBe(true);
    } finally {
      await onExit?.();
      onExit = undefined;
      await receiver.close();
      await db.drop();
    }
  });

  it('a bad OTEL_* value stops the command with its name and value; an unsampled append exports nothing and says so in its headers', async () => {
    const db = await createTestDatabase();
    onExit = () => db.drop();
    const base = {
      DATABASE_URL: db.workerUrl,
      PUBLISH_EVENTS: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    };
    const sampler = await runProjector(['lag', '--no-kafka'], { ...base, OTEL_TRACES_SAMPLER: 'sometimes' });
    expect(sampler.code).toBe(2);
    expect(sampler.stderr).toContain('OTEL_TRACES_SAMPLER "sometimes" is not one of');
    const grpc = await runProjector(['lag', '--no-kafka'], { ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(grpc.code).toBe(2);
    expect(grpc.stderr).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL "grpc" is not one of http/protobuf, http/json',
    );
    const ratio = await runProjector(['lag', '--no-kafka'], { ...base, OTEL_TRACES_SAMPLER_ARG: '1.5' });
    expect(ratio.code).toBe(2);
    expect(ratio.stderr).toContain('OTEL_TRACES_SAMPLER_ARG "1.5" is not a ratio between 0 and 1');
    const url = await runProjector(['lag', '--no-kafka'], {
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
    });
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');

    const receiver = await startOtlpReceiver();
    try {
      const topic = await createTopic(kafka, 'untraced', 1);
      const lines = [...simulateEvents({ seed: 5, events: 3, tenants: 1, now: () => 1_790_000_000_000 })]
        .map((e) => JSON.stringify(toEnvelopeJson(e)))
        .join('\n');
      const run = await runProjector(
        ['append'],
        {
          DATABASE_URL: db.workerUrl,
          KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
          KAFKA_TOPIC: topic,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_TRACES_SAMPLER: 'traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0',
        },
        lines,
      );
      expect(run.code).toBe(0);
      const messages = await readAll(kafka, topic, 3);
      // The context still travels (a downstream decision may differ), flagged not sampled.
      for (const m of messages) expect(m.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(receiver.spans).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
