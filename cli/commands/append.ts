import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ValidationError, parseEvent } from '../../src/events/validate.js';
import type { BetEvent } from '../../src/events/types.js';
import { intOption, stringOption, UsageError, type Command } from '../command.js';
import { openRuntime } from '../runtime.js';

/** Reads and validates every line first: one bad line and nothing is written. */
async function readEventLines(input: NodeJS.ReadableStream): Promise<BetEvent[]> {
  const events: BetEvent[] = [];
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new UsageError(`line ${lineNo}: not JSON: ${line.slice(0, 60)}`);
    }
    try {
      events.push(parseEvent(parsed));
    } catch (error) {
      if (error instanceof ValidationError) throw new UsageError(`line ${lineNo}: ${error.message}`);
      throw error;
    }
  }
  return events;
}

export const appendCommand: Command = {
  name: 'append',
  traced: true,
  summary: 'append events (JSON lines) to the event store',
  usage: `projector append [--file events.jsonl] [--batch-size 100] [--immediate]

Reads one event envelope per line (tenant_id, aggregate_id, version, idempotency_key, event_type,
event_data, timestamp) from --file or stdin, validates all of them, then appends them in batches.
Duplicates (same tenant_id + idempotency_key) are reported, not stored twice.

  --file PATH        read from a file instead of stdin
  --batch-size N     events per append statement (default 100)
  --immediate        also write bets_view in the same transaction`,
  options: { file: { type: 'string' }, 'batch-size': { type: 'string' }, immediate: { type: 'boolean' } },
  async run(values) {
    const batchSize = intOption(values, 'batch-size', 100, 1, 10_000);
    const file = stringOption(values, 'file');
    const input = file ? createReadStream(file) : process.stdin;
    const events = await new Promise<BetEvent[]>((resolve, reject) => {
      input.once('error', (error: Error) => reject(new UsageError(`--file "${file}": ${error.message}`)));
      readEventLines(input).then(resolve, reject);
    });
    const runtime = await openRuntime('append');
    const store = runtime.eventStore();
    let appended = 0;
    let duplicates = 0;
    try {
      for (let i = 0; i < events.length; i += batchSize) {
        const result = await store.append(events.slice(i, i + batchSize), {
          projection: values['immediate'] ? 'immediate' : 'async',
        });
        appended += result.appended.length;
        duplicates += result.duplicates.length;
      }
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ appended, duplicates, failed: true })}\n`);
      throw error;
    } finally {
      await runtime.close();
    }
    process.stdout.write(`${JSON.stringify({ appended, duplicates })}\n`);
  },
};
