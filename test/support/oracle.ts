/**
 * The invariants every scenario ends with: each bets_view row equals the fold of its bet's events in
 * bet_events ordered by version, and every bet with events has a row; and each user_exposure row
 * equals the sum over that user's open bets as folded here from the events — in exact decimals,
 * independently of bets_view and of the SQL that maintains the table.
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
  return [...problems, ...(await exposureProblems(pool, events))];
}

/** A non-negative decimal string as an integer count of 10^-scale units. */
function scaled(value: string | null, scale: number): bigint {
  if (value === null) return 0n;
  const [integer = '0', fraction = ''] = value.split('.');
  return BigInt(integer + fraction.padEnd(scale, '0').slice(0, scale));
}

async function exposureProblems(pool: Pool, events: ReturnType<typeof eventFromRow>[]): Promise<string[]> {
  type Sum = { openBets: number; stake: bigint; payout: bigint };
  const expected = new Map<string, Sum>();
  for (const betEvents of groupByBet(events).values()) {
    const row = foldBet(betEvents);
    if (!row || (row.status !== 'placed' && row.status !== 'accepted') || !row.userId || !row.currency)
      continue;
    const key = `${row.tenantId}:${row.userId}:${row.currency}`;
    const sum = expected.get(key) ?? { openBets: 0, stake: 0n, payout: 0n };
    sum.openBets += 1;
    sum.stake += scaled(row.amount, 4);
    sum.payout += scaled(row.amount, 4) * scaled(row.odds, 4);
    expected.set(key, sum);
  }
  const { rows } = await pool.query<{
    tenant_id: number;
    user_id: string;
    currency: string;
    open_bets: number;
    open_stake: string;
    potential_payout: string;
  }>(
    'SELECT tenant_id, user_id, currency, open_bets::int AS open_bets, open_stake::text, potential_payout::text FROM user_exposure',
  );
  const stored = new Map<string, Sum>(
    rows.map((r) => [
      `${r.tenant_id}:${r.user_id}:${r.currency}`,
      { openBets: r.open_bets, stake: scaled(r.open_stake, 4), payout: scaled(r.potential_payout, 8) },
    ]),
  );
  const problems: string[] = [];
  for (const key of new Set([...expected.keys(), ...stored.keys()])) {
    const want = expected.get(key) ?? { openBets: 0, stake: 0n, payout: 0n };
    const have = stored.get(key) ?? { openBets: 0, stake: 0n, payout: 0n };
    if (want.openBets !== have.openBets || want.stake !== have.stake || want.payout !== have.payout) {
      problems.push(
        `exposure ${key}: ${have.openBets} open bets, stake ${have.stake}e-4, payout ${have.payout}e-8; ` +
          `the events say ${want.openBets}, ${want.stake}e-4, ${want.payout}e-8`,
      );
    }
  }
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
