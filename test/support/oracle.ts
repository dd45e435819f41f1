/**
 * The invariants every scenario ends with: each bets_view row equals the fold of its bet's events in
 * bet_events ordered by version, and every bet with events has a row; each user_exposure row
 * equals the sum over that user's open bets as folded here from the events; each
 * tenant_daily_revenue row equals the stakes placed and the stake − payout closed that day, read
 * here from the events — in exact decimals.
 *
 * The fold here is written from the event contract (docs/architecture.md, "Event model"), not taken
 * from the production reducer, and both tables are read with this file's own SQL: a bug in the
 * reducer or in the production statements shows up as a mismatch instead of agreeing with itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../../src/db/pool.js';

/** "12.5000", "12.50" and "012.5" are the same amount. */
export function normalizeDecimal(value: string | null): string | null {
  if (value === null) return null;
  const trimmed = value.replace(/^(-?)0+(?=\d)/, '$1');
  return trimmed.includes('.') ? trimmed.replace(/0+$/, '').replace(/\.$/, '') : trimmed;
}

/** A stored event, as this file reads it. */
interface StoredEvent {
  tenant_id: number;
  aggregate_id: string;
  version: number;
  idempotency_key: string;
  event_type: string;
  event_data: Record<string, unknown>;
  timestamp: string;
}

/** What a bets_view row must hold, column by column, as text (NULL as null). */
type Expected = Record<string, string | null>;

const text = (value: unknown): string | null => {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
};

/** A decimal string as an exact fraction: units and scale. */
function fraction(value: string): { units: bigint; scale: number } {
  const [integer = '0', part = ''] = value.split('.');
  return { units: BigInt(integer + part), scale: part.length };
}

/** The exact product of decimal strings, normalized (no trailing zeros). */
export function exactProduct(values: readonly string[]): string {
  let units = 1n;
  let scale = 0;
  for (const v of values) {
    const f = fraction(v);
    units *= f.units;
    scale += f.scale;
  }
  const digits = units.toString().padStart(scale + 1, '0');
  return normalizeDecimal(scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`)!;
}

/** JSON with every object's keys sorted: jsonb and a JavaScript object compared by content. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

type Leg = { selection: string; odds: string; market: string | null };

/** What placing a bet with these legs sets: the legs, and a single bet's odds and selection. */
function placedLegs(legs: readonly Leg[]): Expected {
  const single = legs.length === 1 ? legs[0]! : undefined;
  return {
    legs: canonicalJson(legs),
    legs_count: String(legs.length),
    combined_odds: exactProduct(legs.map((l) => l.odds)),
    odds: single ? normalizeDecimal(single.odds) : null,
    selection: single ? single.selection : null,
  };
}

/**
 * The contract's fold (issue 22, docs/architecture.md "Event model"): the placing event sets who,
 * what, the legs and the channel — V1_BET_PLACED is one leg with no market and no channel, a bet of
 * more than one leg has no odds or selection of its own; acceptance, rejection and cancellation set
 * the status; a settlement its result (V1) or outcome (V2) and payout; a cash-out its payout. Every
 * event sets the version, the last event type and timestamp; whatever an event does not carry
 * survives from the events before it.
 */
export function contractFold(events: readonly StoredEvent[]): Expected {
  const row: Expected = {};
  for (const e of events) {
    const d = e.event_data;
    switch (e.event_type) {
      case 'V1_BET_PLACED':
        Object.assign(row, {
          idempotency_key: e.idempotency_key,
          user_id: text(d['user_id']),
          amount: normalizeDecimal(text(d['amount'])),
          currency: text(d['currency']),
          ...placedLegs([{ selection: String(d['selection']), odds: String(d['odds']), market: null }]),
          channel: null,
          status: 'placed',
          placed_at: e.timestamp,
        });
        break;
      case 'V2_BET_PLACED': {
        const stake = d['stake'] as Record<string, string>;
        const legs = (d['legs'] as Array<Record<string, string>>).map((l) => ({
          selection: l['selection']!,
          odds: l['odds']!,
          market: l['market'] ?? null,
        }));
        Object.assign(row, {
          idempotency_key: e.idempotency_key,
          user_id: text(d['user_id']),
          amount: normalizeDecimal(stake['amount']!),
          currency: stake['currency'],
          ...placedLegs(legs),
          channel: text(d['channel']),
          status: 'placed',
          placed_at: e.timestamp,
        });
        break;
      }
      case 'V2_BET_SETTLED':
        row['status'] = text(d['outcome']);
        row['payout'] = normalizeDecimal(text(d['payout']));
        break;
      case 'V1_BET_ACCEPTED':
        row['status'] = 'accepted';
        break;
      case 'V1_BET_REJECTED':
        row['status'] = 'rejected';
        break;
      case 'V1_BET_CANCELLED':
        row['status'] = 'cancelled';
        break;
      case 'V1_BET_SETTLED':
        row['status'] = text(d['result']);
        row['payout'] = normalizeDecimal(text(d['payout']));
        break;
      case 'V1_BET_CASHED_OUT':
        row['status'] = 'cashed_out';
        row['payout'] = normalizeDecimal(text(d['payout']));
        break;
      default:
        throw new Error(`the oracle does not know event type ${e.event_type}`);
    }
    row['version'] = String(e.version);
    row['last_event_type'] = e.event_type;
    row['last_updated_timestamp'] = e.timestamp;
  }
  // Not carried by any event so far: NULL in the row, and the status a bet starts with.
  for (const column of [
    'idempotency_key',
    'user_id',
    'amount',
    'odds',
    'selection',
    'currency',
    'legs',
    'legs_count',
    'combined_odds',
    'channel',
    'payout',
    'placed_at',
  ])
    row[column] ??= null;
  row['status'] ??= 'placed';
  return row;
}

async function storedEvents(pool: Pool): Promise<Map<string, StoredEvent[]>> {
  const { rows } = await pool.query<StoredEvent>(
    `SELECT tenant_id::int AS tenant_id, aggregate_id, version, idempotency_key, event_type, event_data,
            "timestamp"::text AS "timestamp"
       FROM bet_events ORDER BY tenant_id, aggregate_id, version`,
  );
  const byBet = new Map<string, StoredEvent[]>();
  for (const row of rows) {
    const key = `${row.tenant_id}:${row.aggregate_id}`;
    const list = byBet.get(key);
    if (list) list.push(row);
    else byBet.set(key, [row]);
  }
  return byBet;
}

async function storedRows(pool: Pool): Promise<Map<string, Expected>> {
  const { rows } = await pool.query<Expected & { key: string }>(
    `SELECT tenant_id || ':' || bet_id AS key, idempotency_key, user_id, amount::text, odds::text, selection,
            currency, legs::text, legs_count::text, combined_odds::text, channel,
            status, payout::text, version::text, last_event_type,
            (extract(epoch FROM placed_at) * 1000)::bigint::text AS placed_at, last_updated_timestamp::text
       FROM bets_view`,
  );
  return new Map(
    rows.map(({ key, ...row }) => [
      key,
      {
        ...row,
        amount: normalizeDecimal(row['amount'] ?? null),
        odds: normalizeDecimal(row['odds'] ?? null),
        combined_odds: normalizeDecimal(row['combined_odds'] ?? null),
        legs: row['legs'] ? canonicalJson(JSON.parse(row['legs'])) : null,
        payout: normalizeDecimal(row['payout'] ?? null),
      },
    ]),
  );
}

export async function viewMismatches(pool: Pool): Promise<string[]> {
  const events = await storedEvents(pool);
  const view = await storedRows(pool);
  const folded = new Map<string, Expected>();
  const problems: string[] = [];
  for (const [key, betEvents] of events) {
    const expected = contractFold(betEvents);
    folded.set(key, expected);
    const actual = view.get(key);
    view.delete(key);
    if (!actual) {
      problems.push(`${key}: no view row (expected version ${expected['version']})`);
      continue;
    }
    for (const [column, value] of Object.entries(expected)) {
      if (value !== actual[column]) {
        problems.push(
          `${key}: ${column} is ${JSON.stringify(actual[column])}, the events say ${JSON.stringify(value)}`,
        );
      }
    }
  }
  for (const key of view.keys()) problems.push(`${key}: view row without events`);
  return [...problems, ...(await exposureProblems(pool, folded)), ...(await revenueProblems(pool, events))];
}

/** A decimal string as an integer count of 10^-scale units. */
function scaled(value: string | null, scale: number): bigint {
  if (value === null) return 0n;
  const negative = value.startsWith('-');
  const [integer = '0', fraction = ''] = value.replace(/^-/, '').split('.');
  const units = BigInt(integer + fraction.padEnd(scale, '0').slice(0, scale));
  return negative ? -units : units;
}

/** The UTC date of a time in milliseconds, as the database prints a date. */
const dayOf = (ms: string): string => new Date(Number(ms)).toISOString().slice(0, 10);

/** Outcomes a bet's gross gaming revenue counts in (void, cancelled and rejected add nothing). */
const REVENUE_OUTCOMES = new Set(['won', 'lost', 'partially_won']);

/**
 * Turnover: each bet's stake on the day of its placing event. GGR: stake − payout of each bet whose
 * latest settlement or cash-out still stands (no later event moved it elsewhere), on that event's day.
 */
async function revenueProblems(pool: Pool, events: ReadonlyMap<string, StoredEvent[]>): Promise<string[]> {
  type Sum = { turnover: bigint; ggr: bigint };
  const expected = new Map<string, Sum>();
  const add = (key: string, turnover: bigint, ggr: bigint) => {
    const sum = expected.get(key) ?? { turnover: 0n, ggr: 0n };
    sum.turnover += turnover;
    sum.ggr += ggr;
    expected.set(key, sum);
  };
  for (const [bet, betEvents] of events) {
    const tenant = bet.split(':')[0]!;
    const placed = betEvents.find((e) => e.version === 1);
    if (!placed) continue;
    const data = placed.event_data;
    const money = (data['stake'] as Record<string, unknown> | undefined) ?? data;
    const stake = scaled(text(money['amount']), 4);
    const currency = text(money['currency']);
    add(`${tenant}:${currency}:${dayOf(placed.timestamp)}`, stake, 0n);
    let closing: { at: string; payout: bigint } | undefined;
    for (const e of betEvents) {
      const closes =
        (e.event_type === 'V1_BET_SETTLED' && REVENUE_OUTCOMES.has(String(e.event_data['result']))) ||
        (e.event_type === 'V2_BET_SETTLED' && REVENUE_OUTCOMES.has(String(e.event_data['outcome']))) ||
        e.event_type === 'V1_BET_CASHED_OUT';
      // Every event sets the status: one that does not close the bet takes back an earlier close.
      closing = closes ? { at: e.timestamp, payout: scaled(text(e.event_data['payout']), 4) } : undefined;
    }
    if (closing) add(`${tenant}:${currency}:${dayOf(closing.at)}`, 0n, stake - closing.payout);
  }
  const { rows } = await pool.query<{
    tenant_id: number;
    currency: string;
    day: string;
    turnover: string;
    ggr: string;
  }>('SELECT tenant_id, currency, day::text AS day, turnover::text, ggr::text FROM tenant_daily_revenue');
  const stored = new Map<string, Sum>(
    rows.map((r) => [
      `${r.tenant_id}:${r.currency}:${r.day}`,
      { turnover: scaled(r.turnover, 4), ggr: scaled(r.ggr, 4) },
    ]),
  );
  const problems: string[] = [];
  for (const key of new Set([...expected.keys(), ...stored.keys()])) {
    const want = expected.get(key) ?? { turnover: 0n, ggr: 0n };
    const have = stored.get(key) ?? { turnover: 0n, ggr: 0n };
    if (want.turnover !== have.turnover || want.ggr !== have.ggr) {
      problems.push(
        `revenue ${key}: turnover ${have.turnover}e-4, ggr ${have.ggr}e-4; ` +
          `the events say ${want.turnover}e-4, ${want.ggr}e-4`,
      );
    }
  }
  return problems;
}

/**
 * A bet's potential payout in 10^-8 units: stake × combined odds, rounded half away from zero to 8
 * places (the contract: exact to user_exposure's 8 decimal places).
 */
function roundedTo8(stakeUnits4: bigint, combinedOdds: string): bigint {
  const odds = fraction(combinedOdds);
  const product = stakeUnits4 * odds.units; // scale 4 + odds.scale
  const scale = 4 + odds.scale;
  if (scale <= 8) return product * 10n ** BigInt(8 - scale);
  const divisor = 10n ** BigInt(scale - 8);
  return (product + divisor / 2n) / divisor;
}

async function exposureProblems(pool: Pool, folded: ReadonlyMap<string, Expected>): Promise<string[]> {
  type Sum = { openBets: number; stake: bigint; payout: bigint };
  const expected = new Map<string, Sum>();
  for (const [bet, row] of folded) {
    if ((row['status'] !== 'placed' && row['status'] !== 'accepted') || !row['user_id'] || !row['currency'])
      continue;
    const key = `${bet.split(':')[0]}:${row['user_id']}:${row['currency']}`;
    const sum = expected.get(key) ?? { openBets: 0, stake: 0n, payout: 0n };
    sum.openBets += 1;
    sum.stake += scaled(row['amount'] ?? null, 4);
    sum.payout += roundedTo8(scaled(row['amount'] ?? null, 4), row['combined_odds'] ?? '0');
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
