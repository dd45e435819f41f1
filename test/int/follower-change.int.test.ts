/**
 * Each follower's change (its SQL over `transitions`), run by the database over generated
 * transitions of one bet: whatever the bet goes through, the changes of its successive writes add
 * up to what its last row counts — the oracle here is written from the read models' definitions,
 * not from their SQL.
 */
import fc from 'fast-check';
import { FOLLOWERS } from '../../projections/registry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const DAY = 86_400_000;
/** 2026-12-01T00:00:00.000Z */
const D1 = Date.UTC(2026, 11, 1);
const OPEN = new Set(['placed', 'accepted']);
const CLOSED = new Set(['won', 'lost', 'cashed_out', 'partially_won']);
const STATUSES = [
  'placed',
  'accepted',
  'rejected',
  'won',
  'lost',
  'void',
  'cancelled',
  'cashed_out',
  'partially_won',
];

interface State {
  status: string;
  payout: string | null;
  eventAt: number;
}

const follower = (name: string) => FOLLOWERS.find((f) => f.name === name)!;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** A decimal string as units of 10^-scale (exact). */
function units(value: string, scale: number): bigint {
  const [whole = '0', fraction = ''] = value.split('.');
  return BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
}

describe("the followers' change over a bet's successive writes", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  /** The transitions of a bet going through `states`, as the UPSERT returns them. */
  function transitions(states: readonly State[]) {
    return states.map((s, i) => {
      const before = i === 0 ? null : states[i - 1]!;
      return {
        tenant_id: 1,
        bet_id: 'b',
        user_id: 'u-1',
        currency: 'EUR',
        amount: '10.0000',
        // An accumulator of 1.85 and 2.1000: no odds of its own, the exact product of its legs'.
        combined_odds: '3.885000',
        odds: null,
        status: s.status,
        payout: s.payout,
        placed_at: new Date(D1).toISOString(),
        event_at: s.eventAt,
        previous_status: before?.status ?? null,
        previous_payout: before?.payout ?? null,
        previous_event_at: before && before.payout !== null ? before.eventAt : null,
      };
    });
  }

  /** The change of each transition, summed by key over all of them (amounts as text). */
  async function summedChange(
    name: string,
    rows: readonly object[],
    scales: readonly number[],
  ): Promise<Map<string, bigint[]>> {
    const f = follower(name);
    const key = f.adds.key.map((c) => c.name);
    const sums = f.adds.sums.map((c) => c.name);
    const { rows: out } = await db.pool.query<Record<string, unknown>>(
      `WITH transitions AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
           tenant_id bigint, bet_id text, user_id text, currency text, amount numeric, combined_odds numeric,
           odds numeric,
           status text, payout numeric, placed_at timestamptz, event_at bigint, previous_status text,
           previous_payout numeric, previous_event_at bigint)),
       change AS (${f.change})
       SELECT ${key.map((k) => `${k}::text AS ${k}`).join(', ')},
              ${sums.map((s) => `sum(${s})::text AS ${s}`).join(', ')}
       FROM change GROUP BY ${key.join(', ')}`,
      [JSON.stringify(rows)],
    );
    const result = new Map<string, bigint[]>();
    for (const r of out) {
      const amounts = sums.map((s, i) => units(String(r[s]), scales[i]!));
      if (amounts.some((a) => a !== 0n)) result.set(key.map((k) => String(r[k])).join('|'), amounts);
    }
    return result;
  }

  it('property: the changes of a bet add up to what its last row counts, for each follower', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            status: fc.constantFrom(...STATUSES),
            payout: fc.integer({ min: 0, max: 999_999 }),
            days: fc.integer({ min: 0, max: 4 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (steps) => {
          const states: State[] = steps.map((s, i) => {
            const status = i === 0 ? 'placed' : s.status;
            const paid = ['won', 'lost', 'void', 'cashed_out', 'partially_won'].includes(status);
            return {
              status,
              // A payout stays once set, as the fold keeps it; a settlement or cash-out sets a new one.
              payout: paid ? `${s.payout}.0000` : null,
              eventAt: D1 + s.days * DAY + i,
            };
          });
          for (let i = 1; i < states.length; i++) {
            if (states[i]!.payout === null) states[i]!.payout = states[i - 1]!.payout;
          }
          const rows = transitions(states);
          const last = states[states.length - 1]!;

          // user_exposure: the bet counts while it is open: 1 bet, its stake, stake × combined odds
          // (10 × 3.885 = 38.85, in 8 places).
          const exposure = new Map<string, bigint[]>();
          if (OPEN.has(last.status)) exposure.set('1|u-1|EUR', [1n, 100_000n, 3_885_000_000n]);
          expect(await summedChange('user_exposure', rows, [0, 4, 8])).toEqual(exposure);

          // tenant_daily_revenue: the stake on the placing day; stake − payout on the closing day.
          const revenue = new Map<string, bigint[]>([[`1|EUR|${day(D1)}`, [100_000n, 0n]]]);
          if (CLOSED.has(last.status)) {
            const key = `1|EUR|${day(last.eventAt)}`;
            const [turnover, ggr] = revenue.get(key) ?? [0n, 0n];
            revenue.set(key, [turnover!, ggr! + 100_000n - units(last.payout!, 4)]);
          }
          for (const [k, v] of revenue) if (v.every((a) => a === 0n)) revenue.delete(k);
          expect(await summedChange('tenant_daily_revenue', rows, [4, 4])).toEqual(revenue);
        },
      ),
      { numRuns: 60 },
    );
  });
});
