/**
 * Starts the OpenTelemetry SDK for traces, as the settings (the OTEL_* variables, checked in
 * config.ts) ask: a batch span processor exporting OTLP over HTTP, protobuf or JSON, W3C trace
 * context. The exporter reads its own OTEL_EXPORTER_OTLP_* headers, timeout and compression.
 */
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-node';
import { TraceFlags, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import type { TracingSettings } from '../config.js';
import { markTracingStarted } from './tracing.js';

export interface Tracing {
  /** Exports what is buffered and stops; safe to call when tracing is off. */
  shutdown(): Promise<void>;
}

function baseSampler(settings: TracingSettings): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
  }
}

/**
 * A span that links to a sampled span is sampled too. A flush is a root span, so the ratio alone
 * would record one flush in a hundred at 0.01 — and the flush of a sampled append would almost
 * never be there to follow. With this, every sampled append's flush is recorded, and only those.
 */
export class LinkedSampler implements Sampler {
  constructor(private readonly base: Sampler) {}

  shouldSample(
    parent: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (links.some((l) => (l.context.traceFlags & TraceFlags.SAMPLED) !== 0)) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.base.shouldSample(parent, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `LinkedSampler{${this.base.toString()}}`;
  }
}

const OFF: Tracing = { shutdown: async () => undefined };

export function startTracing(settings: TracingSettings | undefined, serviceVersion: string): Tracing {
  if (!settings) return OFF;
  const exporter =
    settings.protocol === 'http/json'
      ? new JsonExporter({ url: settings.endpoint })
      : new ProtobufExporter({ url: settings.endpoint });
  const resource = resourceFromAttributes({
    'service.name': settings.serviceName,
    'service.version': serviceVersion,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    sampler: new LinkedSampler(baseSampler(settings)),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  markTracingStarted(true);
  return {
    async shutdown() {
      markTracingStarted(false);
      await provider.shutdown();
    },
  };
}
