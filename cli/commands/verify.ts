import { FOLLOWER_NAMES, reconciler } from '../../projections/registry.js';
import { intOption, stringOption, tenantsOption, tenantScope, UsageError, type Command } from '../command.js';
import { openRuntime } from '../runtime.js';
import { table } from '../table.js';

/** Rows listed in the text report; --json lists all. */
const SHOWN = 20;

export const verifyCommand: Command = {
  name: 'verify',
  traced: true,
  summary: `compare every column of bets_view with the fold of bet_events, and ${FOLLOWER_NAMES} with bets_view`,
  usage: `projector verify [--tenant N…] [--bet ID[,ID…]] [--grace-ms 10000] [--json]

Folds each bet from its stored events in the database (the declared fold as SQL, not the worker's
code) and compares every column of its bets_view row with it, tenant by tenant (on Citus each
tenant's comparison runs on its shard alone). Lists the bets that differ: a row that is not the
fold, a bet without a row, a row without events. Then the rows of ${FOLLOWER_NAMES} that differ
from what bets_view says they must hold (in --tenant's, or all tenants). Read-only; safe while workers run.

  --tenant N      only this tenant; repeat it (or N,M) for several
  --bet IDs       only these bets, comma-separated (needs exactly one --tenant)
  --grace-ms N    a row behind only by events newer than N ms is in flight, not different (default 10000)
  --json          machine-readable output

Exits 1 when any bet or follower row differs, 0 otherwise. \`projector repair\` heals rows behind
their events, rows that are not the fold at their own version, and the follower rows;
\`projector rebuild\` also removes a row without events.`,
  options: {
    tenant: { type: 'string', multiple: true },
    bet: { type: 'string' },
    'grace-ms': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const tenants = tenantsOption(values);
    const bets = stringOption(values, 'bet')
      ?.split(',')
      .map((b) => b.trim());
    if (bets !== undefined && tenants?.length !== 1)
      throw new UsageError('--bet needs exactly one --tenant (bet ids are per tenant)');
    if (bets?.some((b) => b === ''))
      throw new UsageError(`--bet "${String(values['bet'])}" has an empty bet id`);
    const graceMs = intOption(values, 'grace-ms', 10_000, 0, 86_400_000);
    const runtime = await openRuntime('verify', { kafka: false });
    try {
      const differing = await reconciler.differingBets(runtime.pool, {
        ...tenantScope(tenants),
        ...(bets && { betIds: bets }),
        cutoffMs: Date.now() - graceMs,
      });
      const followers = await reconciler.checkFollowers(runtime.pool, tenantScope(tenants));
      const followerRows = Object.values(followers).reduce((n, c) => n + c.differing, 0);
      if (values['json']) {
        process.stdout.write(`${JSON.stringify({ bets: differing, followers })}\n`);
      } else {
        const out = [`bets_view: ${differing.length} bets differ from the fold of their events`];
        if (differing.length > 0) {
          out.push(
            table([
              ['tenant', 'bet', 'fold version', 'view version', 'columns that differ'],
              ...differing
                .slice(0, SHOWN)
                .map((d) => [
                  d.tenantId,
                  d.betId,
                  d.foldVersion ?? '-',
                  d.viewVersion ?? '-',
                  d.columns.join(' '),
                ]),
            ]),
          );
          if (differing.length > SHOWN) out.push(`… and ${differing.length - SHOWN} more (--json lists all)`);
        }
        for (const [name, check] of Object.entries(followers))
          out.push(`${name}: ${check.differing} rows differ from what bets_view says they must hold`);
        if (differing.length + followerRows > 0)
          out.push('projector repair heals them (projector rebuild also removes a row without events)');
        process.stdout.write(`${out.join('\n')}\n`);
      }
      return differing.length + followerRows > 0 ? 1 : 0;
    } finally {
      await runtime.close();
    }
  },
};
