import {
  DEFAULT_REBUILD_CHUNKS,
  FOLLOWER_NAMES,
  rebuildReadModels,
  rebuildTenants,
} from '../../projections/registry.js';
import { throttle } from '../../projections/throttle.js';
import { jobMetrics } from '../../src/observability/push.js';
import { intOption, stringOption, tenantsOption, UsageError, type Command } from '../command.js';
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
set-based transaction (readers never wait; on PostgreSQL a flush waits only on a row it changes,
on Citus flushes wait for it).

  --dry-run          build the shadow, print how it differs from the live view, and drop it
  --strategy S       set (default: INSERT … SELECT in the database) or copy (stream, fold in Node)
  --chunks N         hash chunks filled independently, each reading bet_events once (default ${DEFAULT_REBUILD_CHUNKS})
  --concurrency N    ranges filled at once (default 2)

projector rebuild --tenant N… [--max-events-per-second N] [--batch-size 500]

Recomputes only the tenants named, in place: their rows are rewritten from their events 500 bets
per transaction (each locks only its own rows), rows of theirs without events are deleted, then
${FOLLOWER_NAMES} are set for them (reported as followersMs). No swap: the workers keep
projecting every tenant, that one included. On PostgreSQL no table is locked; on Citus the
followers' step holds their tables against flushes for its time.

  --tenant N                  a tenant to rebuild; repeat it (or N,M) for several
  --max-events-per-second N   at most this many events folded per second, on average, so the
                              rebuild can run beside production traffic (default: no limit)
  --batch-size N              bets per transaction (default 500)`,
  options: {
    'dry-run': { type: 'boolean' },
    strategy: { type: 'string' },
    chunks: { type: 'string' },
    concurrency: { type: 'string' },
    tenant: { type: 'string', multiple: true },
    'max-events-per-second': { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run(values) {
    const tenants = tenantsOption(values);
    const rate =
      values['max-events-per-second'] === undefined
        ? undefined
        : intOption(values, 'max-events-per-second', 0, 1, 100_000_000);
    if (tenants === undefined && (rate !== undefined || values['batch-size'] !== undefined)) {
      throw new UsageError(
        '--max-events-per-second and --batch-size go with --tenant (the whole-table rebuild fills a shadow table and swaps it)',
      );
    }
    if (tenants !== undefined) {
      for (const option of ['dry-run', 'strategy', 'chunks', 'concurrency']) {
        if (values[option] !== undefined)
          throw new UsageError(`--${option} is for the whole-table rebuild, not with --tenant`);
      }
      return rebuildSomeTenants(tenants, rate, intOption(values, 'batch-size', 500, 1, 100_000));
    }
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

/** `rebuild --tenant N…`: in place, tenant by tenant, throttled when asked. */
async function rebuildSomeTenants(
  tenants: readonly number[],
  maxEventsPerSecond: number | undefined,
  batchSize: number,
): Promise<number> {
  const runtime = await openRuntime('rebuild', { kafka: false });
  const { metrics, pusher } = jobMetrics('bet_projector_rebuild', runtime);
  const report = progressReporter();
  const limit = throttle(maxEventsPerSecond);
  const started = performance.now();
  try {
    const result = await rebuildTenants(runtime.pool, tenants, {
      batchSize,
      throttle: limit,
      onProgress: (done, total) => {
        metrics.rebuildProgress.set(total > 0 ? done / total : 1);
        report({ phase: 'tenant', done, total, elapsedMs: Math.round(performance.now() - started) });
      },
    });
    metrics.rebuildProgress.set(1);
    process.stdout.write(
      `${JSON.stringify({ ...result, throttledMs: limit.waitedMs, elapsedMs: Math.round(performance.now() - started) }, null, 2)}\n`,
    );
    return 0;
  } finally {
    await pusher.stop();
    await runtime.close();
  }
}
