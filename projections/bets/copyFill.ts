/**
 * The streaming way to fill a rebuild's shadow table: COPY one hash chunk of bet_events out
 * (ordered by bet and version), fold each bet with the reducer as the rows stream past, and COPY
 * the rows into the shadow. Memory stays at one bet; the reducer is the worker's own. Kept as the
 * alternative to the set-based fill for comparison (`projector rebuild --strategy copy`).
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { standaloneClient, type Pool } from '../../src/db/pool.js';
import { eventFromRow } from '../../src/store/statements.js';
import type { BetEvent, EventType } from '../../src/events/types.js';
import { foldBet } from './reducer.js';
import type { BetRow } from './row.js';
import { ROW_COLUMNS, WRITTEN_COLUMNS, rowValues } from './columns.js';
import { chunkFilter, type Chunk } from '../chunks.js';

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** One field of COPY's text format; null for \N. */
function unescapeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.includes('\\') ? field.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c) : field;
}

function escapeCopyField(value: string | number | null): string {
  if (value === null) return '\\N';
  return String(value).replace(
    /[\\\t\n\r]/g,
    (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!,
  );
}

function rowLine(row: BetRow, projectedAt: string): string {
  const values = rowValues(row);
  const fields = values.map((value, i) => {
    const copy = ROW_COLUMNS[i]!.copy;
    return escapeCopyField(
      value === null || !copy ? (value as string | number | null) : copy(value as never),
    );
  });
  return `${fields.join('\t')}\t${escapeCopyField(projectedAt)}\n`;
}

async function* foldedRows(lines: AsyncIterable<string>, count: { bets: number }): AsyncGenerator<string> {
  const projectedAt = new Date().toISOString();
  let current: BetEvent[] = [];
  let key = '';
  for await (const line of lines) {
    const [tenant, bet, version, idem, type, data, ts] = line.split('\t').map(unescapeCopyField);
    const event = eventFromRow({
      tenant_id: Number(tenant),
      aggregate_id: bet!,
      version: Number(version),
      idempotency_key: idem!,
      event_type: type as EventType,
      event_data: JSON.parse(data!) as object,
      timestamp: Number(ts),
    });
    const eventKey = `${tenant}:${bet}`;
    if (eventKey !== key && current.length > 0) {
      count.bets++;
      yield rowLine(foldBet(current)!, projectedAt);
      current = [];
    }
    key = eventKey;
    current.push(event);
  }
  if (current.length > 0) {
    count.bets++;
    yield rowLine(foldBet(current)!, projectedAt);
  }
}

/** Fills `table` with the folded bets of one chunk; returns the number of bets written. */
export async function fillByCopy(pool: Pool, table: string, chunk: Chunk): Promise<number> {
  const filter = chunkFilter(chunk, 'aggregate_id', 1);
  const reader = await standaloneClient(pool);
  const writer = await standaloneClient(pool);
  try {
    // COPY takes no bind parameters: the chunk numbers are quoted by the server and inlined.
    const where = await literalFilter(reader, filter);
    const source = reader.query(
      copyTo(`COPY (SELECT tenant_id, aggregate_id, version, idempotency_key, event_type, event_data::text, "timestamp"
                    FROM bet_events WHERE ${where} ORDER BY tenant_id, aggregate_id, version) TO STDOUT`),
    );
    const sink = writer.query(copyFrom(`COPY ${table} (${WRITTEN_COLUMNS}) FROM STDIN`));
    const count = { bets: 0 };
    await pipeline(
      Readable.from(foldedRows(createInterface({ input: source, crlfDelay: Infinity }), count)),
      sink,
    );
    return count.bets;
  } finally {
    await Promise.all([reader.end(), writer.end()]);
  }
}

/** Inlines a range filter's parameters as literals quoted by the server (quote_literal). */
async function literalFilter(
  db: Pick<Pool, 'query'>,
  filter: { sql: string; values: unknown[] },
): Promise<string> {
  if (filter.values.length === 0) return filter.sql;
  const { rows } = await db.query<{ q: string[] }>(
    'SELECT array_agg(quote_literal(v) ORDER BY n) AS q FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n)',
    [filter.values.map(String)],
  );
  const quoted = rows[0]!.q;
  return filter.sql.replace(/\$(\d+)/g, (_, n: string) => quoted[Number(n) - 1]!);
}
