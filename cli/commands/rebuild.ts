import { DEFAULT_REBUILD_CHUNKS, FOLLOWER_NAMES, rebuildReadModels } from '../../projections/registry.js';
import { jobMetrics } from '../../src/observability/push.js';
import { intOption, stringOption, UsageError, type Command } from '../command.js';
import { progressReporter } from '../progress.js';
import { openRuntime } from '../runtime.js';

export const rebuildCommand: Command = {
  name: 'rebuild',
  traced: true,
  summary: `rebuild bets_view from bet_events without downtime (shadow table + swap), then ${FOLLOWER_NAMES}`,
  usage: `projector rebuild [--dry-run] [--strategy set|copy] [--chunks N] [--concurrency N]

Fills a shadow table from bet_events, catches up with what the workers projected meanwhile, then
swaps it in under a short lock. Readers never see an empty or half-built view; workers keep running.
Then ${FOLLOWER_NAMES} are set to what the new bets_view says they must hold, each in one
set-based transaction (flushes wait for it, readers do not).

  --dry-run          build the shadow, print how it differs from the live view, and drop it
  --strategy S       set (default: INSERT … SELECT in the database) or copy (stream, fold in Node)
  --chunks N         hash chunks filled independently, each reading bet_events once (default ${DEFAULT_REBUILD_CHUNKS})
  --concurrency N    ranges filled at once (default 2)`,
  options: {
    'dry-run': { type: 'boolean' },
    strategy: { type: 'string' },
    chunks: { type: 'string' },
    concurrency: { type: 'string' },
  },
  async run(values) {
    const strategy = stringOption(values, 'strategy') ?? 'set';
    if (strategy !== 'set' && strategy !== 'copy')
      throw new UsageError(`--strategy "${strategy}" is not set or copy`);
    const chunks = intOption(values, 'chunks', DEFAULT_REBUILD_CHUNKS, 1, 1_000);
    const concurrency = intOption(values, 'concurrency', 2, 1, 64);
    const runtime = await openRuntime('rebuild', { kafka: false });
    const { metrics, pusher } = jobMetrics('bet_projector_rebuild', runtime);
    const report = progressReporter();
    try {
      const result = await rebuildReadModels(runtime.pool, {
        strategy: strategy,
        chunks,
        concurrency,
        dryRun: values['dry-run'] === true,
        onProgress: (p) => {
          if (p.phase === 'fill') metrics.rebuildProgress.set(p.total > 0 ? p.done / p.total : 1);
          report(p);
        },
      });
      metrics.rebuildProgress.set(1);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.differences && result.differences.count > 0 ? 1 : 0;
    } finally {
      await pusher.stop();
      await runtime.close();
    }
  },
};
