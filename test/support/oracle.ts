/**
 * The invariant every scenario ends with: each bets_view row equals the fold of its bet's events in
 * bet_events ordered by version, and every bet with events has a row.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../../src/db/pool.js';
import { betKey } from '../../src/events/types.js';
import { eventFromRow } from '../../src/store/statements.js';
import { groupByBet } from '../../projections/bets/plan.js';
import { foldBet } from '../../projections/bets/reducer.js';
import type { BetRow } from '../../projections/bets/row.js';
import { SELECT_BET_ROWS, toBetRow } from '../../projections/bets/statements.js';

/** "12.5000" and "12.50" are the same amount. */
export function normalizeDecimal(value: string | null): string | null {
  if (value === null) return null;
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

function comparable(row: BetRow): Record<string, unknown> {
  return {
    ...row,
    amount: normalizeDecimal(row.amount),
    odds: normalizeDecimal(row.odds),
    payout: normalizeDecimal(row.payout),
  };
}

export async function viewMismatches(pool: Pool): Promise<string[]> {
  const events = (
    await pool.query('SELECT * FROM bet_events ORDER BY tenant_id, aggregate_id, version')
  ).rows.map(eventFromRow);
  const viewRows = await pool.query<Parameters<typeof toBetRow>[0]>(
    SELECT_BET_ROWS.replace(/WHERE[\s\S]*$/, ''),
  );
  const view = new Map(viewRows.rows.map((r) => [betKey(r.tenant_id, r.bet_id), comparable(toBetRow(r))]));
  const problems: string[] = [];
  for (const [key, betEvents] of groupByBet(events)) {
    const expected = comparable(foldBet(betEvents)!);
    const actual = view.get(key);
    view.delete(key);
    if (!actual) {
      problems.push(`${key}: no view row (expected version ${String(expected['version'])})`);
      continue;
    }
    for (const field of Object.keys(expected)) {
      if (expected[field] !== actual[field]) {
        problems.push(
          `${key}: ${field} is ${JSON.stringify(actual[field])}, fold says ${JSON.stringify(expected[field])}`,
        );
      }
    }
  }
  for (const key of view.keys()) problems.push(`${key}: view row without events`);
  return problems;
}

export async function waitFor(
  what: string,
  predicate: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
