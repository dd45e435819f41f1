/**
 * Traces, through the OpenTelemetry API only: spans are real when the SDK is started
 * (tracingSdk.ts, from the OTEL_* variables) and cost next to nothing when it is not — the API's
 * tracer then hands out non-recording spans, and nothing here reads a Kafka header.
 *
 * One bet's way from producer to view is two traces joined by links: the append (and its Kafka
 * send, whose context travels in each message's W3C `traceparent` header), then the flush that
 * wrote it, which links to the send spans of every sampled event it carries — one flush folds
 * events of many traces, so they are links, not parents.
 */
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

export {
  SpanKind,
  ROOT_CONTEXT,
  context,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
};

export const TRACER_NAME = 'bet-projector';

let started = false;

/** Set by tracingSdk.ts once the SDK is registered: headers are read and statements traced from then on. */
export function markTracingStarted(on: boolean): void {
  started = on;
}

export function tracingEnabled(): boolean {
  return started;
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  readonly links?: Link[];
  readonly parent?: Context;
  /**
   * Made the active span only when sampled: for a root span whose children are only the
   * statements it sends (a flush), so an unsampled one never enters the async context.
   */
  readonly activeOnlyWhenSampled?: boolean;
}

const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Runs `work` in a new active span (a child of the active context, or of `parent`), records a
 * failure on it and ends it however `work` ends. With traces off, `work` runs as it is, and
 * `options` (a function where they cost something to gather) is never read.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions | (() => SpanOptions),
  work: (span: Span) => Promise<T>,
): Promise<T> {
  if (!started) return work(NOT_RECORDING);
  const { parent, activeOnlyWhenSampled, ...spanOptions } =
    typeof options === 'function' ? options() : options;
  const parentContext = parent ?? context.active();
  const span = tracer().startSpan(name, spanOptions, parentContext);
  const run = async () => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
  if (activeOnlyWhenSampled && !span.isRecording()) return run();
  return context.with(trace.setSpan(parentContext, span), run);
}

export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
}

/** The active context as W3C headers (`traceparent`, and `tracestate` when set); empty when off. */
export function contextHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (started) propagation.inject(context.active(), carrier);
  return carrier;
}

/** A context carried by headers (Kafka's, or the TRACEPARENT/TRACESTATE variables), or the root. */
export function contextFromHeaders(headers: Readonly<Record<string, string | undefined>>): Context {
  if (!started || headers['traceparent'] === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** The sampled producer span a message's `traceparent` names, or undefined: the flush links to it. */
export function sampledSpanOf(traceparent: string | undefined): SpanContext | undefined {
  if (!started || traceparent === undefined) return undefined;
  // Most messages are not sampled: their flags (the last two hex digits) say so without a parse.
  if ((parseInt(traceparent.slice(-2), 16) & TraceFlags.SAMPLED) === 0) return undefined;
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  if (!spanContext || (spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return spanContext;
}

/** The trace id of the active span when it is sampled: for exemplars. */
export function sampledTraceId(span: Span): string | undefined {
  const { traceId, traceFlags } = span.spanContext();
  return (traceFlags & TraceFlags.SAMPLED) !== 0 ? traceId : undefined;
}
