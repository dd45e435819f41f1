import { FOLLOWER_NAMES, reconciler } from '../../projections/registry.js';
import { throttle } from '../../projections/throttle.js';
import { intOption, stringOption, tenantsOption, tenantScope, UsageError, type Command } from '../command.js';
import { parseSince } from '../duration.js';
import { progressReporter } from '../progress.js';
import { openRuntime } from '../runtime.js';
import { jobMetrics } from '../../src/observability/push.js';

/** As `projector verify`'s default: a row behind only by newer events is in flight. */
const VERIFY_GRACE_MS = 10_000;

export const repairCommand: Command = {
  name: 'repair',
  traced: true,
  summary: `re-fold lagging bets from bet_events into bets_view, then set ${FOLLOWER_NAMES}`,
  usage: `projector repair [--tenant N…] [--bet ID] [--since 24h|ISO|all] [--batch-size N] [--concurrency N]

Re-folds the bets that \`projector lag\` reports (within --since, default all) from their stored
events; then heals what \`projector verify\` finds in the same tenants and bets (a row that is not
the fold at its own version is rewritten with it; a row without events, or ahead of them, is left
to \`projector rebuild\`, which runs as the schema owner); then sets
every row of ${FOLLOWER_NAMES} that differs from what bets_view says it must hold (in --tenant's,
or all tenants;
readers never wait; on PostgreSQL a flush waits only on a row the repair changes, on Citus flushes
wait for the repair). Idempotent and safe while workers run: no
bets_view write goes backwards.

  --tenant N        only this tenant; repeat it (or N,M) for several
  --bet ID          only this bet (needs exactly one --tenant)
  --since S         only bets with events since S (15m, 24h, 7d, an ISO time, or all)
  --batch-size N    bets per transaction (default 500)
  --concurrency N   transactions at once (default 2)
  --max-events-per-second N
                    at most this many events re-folded per second, on average, so the repair can
                    run beside production traffic (default: no limit)`,
  options: {
    tenant: { type: 'string', multiple: true },
    bet: { type: 'string' },
    since: { type: 'string' },
    'batch-size': { type: 'string' },
    concurrency: { type: 'string' },
    'max-events-per-second': { type: 'string' },
  },
  async run(values) {
    const tenants = tenantsOption(values);
    const bet = stringOption(values, 'bet');
    if (bet !== undefined && tenants?.length !== 1)
      throw new UsageError('--bet needs exactly one --tenant (bet ids are per tenant)');
    const sinceMs = parseSince('since', stringOption(values, 'since') ?? 'all');
    const batchSize = intOption(values, 'batch-size', 500, 1, 100_000);
    const concurrency = intOption(values, 'concurrency', 2, 1, 64);
    const limit = throttle(
      values['max-events-per-second'] === undefined
        ? undefined
        : intOption(values, 'max-events-per-second', 0, 1, 100_000_000),
    );
    const runtime = await openRuntime('repair', { kafka: false });
    const { metrics, pusher } = jobMetrics('bet_projector_repair', runtime);
    try {
      const bets = await reconciler.laggingBets(runtime.pool, {
        ...(sinceMs !== undefined ? { sinceMs } : {}),
        ...tenantScope(tenants),
        ...(tenants && bet !== undefined ? { bets: [{ tenantId: tenants[0]!, betId: bet }] } : {}),
      });
      const started = performance.now();
      const report = progressReporter();
      const result = await reconciler.repairBets(runtime.pool, bets, {
        batchSize,
        concurrency,
        throttle: limit,
        onProgress: (done, total) => {
          metrics.repairProgress.set(total > 0 ? done / total : 1);
          report({ phase: 'repair', done, total, elapsedMs: Math.round(performance.now() - started) });
        },
      });
      // Then what verify finds in the same scope: rows at their version that are not the fold.
      const differing = await reconciler.differingBets(runtime.pool, {
        ...tenantScope(tenants),
        ...(bet !== undefined && { betIds: [bet] }),
        cutoffMs: Date.now() - VERIFY_GRACE_MS,
      });
      const healed = await reconciler.healDiffering(runtime.pool, differing, limit);
      // Then the read models that follow bets_view, against what it now holds.
      metrics.repairProgress.set(1);
      metrics.repairedBets.inc({ source: 'repair' }, result.rowsWritten + healed);
      const followersRepaired = await reconciler.repairFollowers(runtime.pool, tenantScope(tenants));
      process.stdout.write(
        `${JSON.stringify({
          lagging: bets.length,
          repaired: result.rowsWritten,
          differing: differing.length,
          rewritten: healed,
          leftToRebuild: differing.length - healed,
          followersRepaired,
          throttledMs: limit.waitedMs,
        })}\n`,
      );
    } finally {
      await pusher.stop();
      await runtime.close();
    }
  },
};
