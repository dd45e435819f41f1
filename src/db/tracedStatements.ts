/**
 * With traces on, each statement a pooled connection sends inside a recording span becomes a child
 * span of it: from the moment it is sent to its answer, so the statements of a pipelined flush show
 * as the overlapping spans they are. Outside a recording span (or with traces off) a statement
 * costs one check. COPY streams and callback-style queries pass through untraced.
 */
import type pg from 'pg';
import { SpanKind, context, failSpan, trace, tracer } from '../observability/tracing.js';

/** Long statements (a multi-row VALUES list) are cut: the text names the statement, it is not a log. */
const MAX_QUERY_TEXT = 2_000;

function textOf(config: unknown): { text: string; name?: string } | undefined {
  if (typeof config === 'string') return { text: config };
  if (config && typeof config === 'object' && typeof (config as { text?: unknown }).text === 'string') {
    const { text, name } = config as { text: string; name?: unknown };
    return { text, ...(typeof name === 'string' && { name }) };
  }
  return undefined;
}

/**
 * Wraps `target.query`: a pooled client's, and the pool's own (pool.query checks out a client and
 * calls its query with a callback, which passes through, so a statement is traced once).
 */
export function traceStatements(target: pg.Pool | pg.PoolClient, database: string | undefined): void {
  const query = target.query.bind(target) as (...args: unknown[]) => unknown;
  (target as { query: unknown }).query = (...args: unknown[]) => {
    const statement = textOf(args[0]);
    const parent = trace.getSpan(context.active());
    if (!statement || !parent?.isRecording() || args.some((a) => typeof a === 'function')) {
      return query(...args);
    }
    const operation = /^\s*(\w+)/.exec(statement.text)?.[1]?.toUpperCase() ?? 'QUERY';
    const span = tracer().startSpan(statement.name ?? operation, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'postgresql',
        'db.operation.name': operation,
        'db.query.text': statement.text.slice(0, MAX_QUERY_TEXT),
        ...(statement.name && { 'db.query.summary': statement.name }),
        ...(database && { 'db.namespace': database }),
      },
    });
    const answered = query(...args) as Promise<pg.QueryResult>;
    answered.then(
      (result) => {
        if (typeof result?.rowCount === 'number')
          span.setAttribute('db.response.returned_rows', result.rowCount);
        span.end();
      },
      (error: unknown) => {
        failSpan(span, error);
        span.end();
      },
    );
    return answered;
  };
}
