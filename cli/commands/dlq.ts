import { listDeadLetters } from '../../consumers/deadLetters.js';
import { replayDeadLetters } from '../../consumers/deadLetterReplay.js';
import { betsProjection } from '../../projections/registry.js';
import { intOption, UsageError, type Command } from '../command.js';
import { openRuntime } from '../runtime.js';
import { table } from '../table.js';

export const dlqCommand: Command = {
  name: 'dlq',
  traced: true,
  summary: 'list or replay dead letters',
  usage: `projector dlq list [--limit N] [--all] [--json]
projector dlq replay [--limit N]

list     dead letters not yet replayed (--all: also replayed ones), oldest first
replay   validate each again; project the valid ones and mark them replayed; never deletes

  --limit N   at most N dead letters (default 100 for list, 1000 for replay)`,
  options: { limit: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals) {
    const [action, ...extra] = positionals;
    if (action !== 'list' && action !== 'replay') {
      throw new UsageError(`action "${action ?? ''}" is not list or replay`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const runtime = await openRuntime('dlq', { kafka: false });
    try {
      if (action === 'replay') {
        const report = await replayDeadLetters(
          runtime.pool,
          betsProjection,
          intOption(values, 'limit', 1_000, 1, 1_000_000),
        );
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return 0;
      }
      const letters = await listDeadLetters(runtime.pool, {
        limit: intOption(values, 'limit', 100, 1, 1_000_000),
        includeReplayed: values['all'] === true,
      });
      if (values['json']) {
        const rows = letters.map((l) => ({ ...l, payload: l.payload?.toString('utf8') ?? null }));
        process.stdout.write(`${JSON.stringify(rows)}\n`);
      } else {
        process.stdout.write(
          `${table([
            ['topic', 'partition', 'offset', 'tenant', 'first seen', 'replayed', 'reason'],
            ...letters.map((l) => [
              l.topic,
              l.partition,
              l.kafka_offset,
              l.tenant_id ?? '-',
              l.first_seen_at.toISOString(),
              l.replayed_at?.toISOString() ?? '-',
              l.replay_result ?? l.reason,
            ]),
          ])}\n`,
        );
      }
      return 0;
    } finally {
      await runtime.close();
    }
  },
};
