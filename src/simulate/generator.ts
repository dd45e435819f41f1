/**
 * A realistic multi-tenant betting stream, deterministic for a seed: bets are placed, then accepted
 * or rejected, then settled (won/lost/void), cashed out or cancelled, interleaved across many open
 * bets and tenants of uneven size. Money is computed in integer minor units, never floats.
 */
import type { BetEvent } from '../events/types.js';

export interface SimulationOptions {
  readonly events: number;
  readonly tenants: number;
  readonly seed: number;
  /** Bets in flight at once; more means more interleaving between a bet's events. */
  readonly openBets?: number;
  readonly now?: () => number;
  /**
   * Default true: stop placing bets near the end so a finite run ends with them settled. false: a
   * cut through a live stream, bets still open at the end (per-user exposure has something to sum).
   */
  readonly settleAtEnd?: boolean;
}

/** mulberry32: small, fast, good enough for test data, and reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Minor units (scale digits) → decimal string: 1250n, 2 → "12.50". */
export function formatScaled(value: bigint, scale: number): string {
  const digits = value.toString().padStart(scale + 1, '0');
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

interface OpenBet {
  tenantId: number;
  betId: string;
  version: number;
  stage: 'placed' | 'accepted';
  amountCents: bigint;
  oddsHundredths: bigint;
}

const SELECTIONS = ['home', 'draw', 'away', 'over 2.5', 'under 2.5', 'both teams score'];
const CURRENCIES = ['EUR', 'GBP', 'USD'];

export function* simulateEvents(options: SimulationOptions): Generator<BetEvent> {
  const random = seededRandom(options.seed);
  const now = options.now ?? Date.now;
  const openTarget = options.openBets ?? 1_000;
  const open: OpenBet[] = [];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const runId = options.seed.toString(36);
  let betCounter = 0;

  for (let emitted = 0; emitted < options.events; emitted++) {
    const remaining = options.events - emitted;
    // Place new bets while below the target, and stop placing when only enough events remain to
    // close what is open (so a finite run ends with mostly settled bets).
    const mustPlace = open.length === 0;
    const mayPlace =
      open.length < openTarget && (options.settleAtEnd === false || remaining > open.length * 2);
    if (mustPlace || (mayPlace && random() < 0.4)) {
      // Tenants of uneven size: low ids are the big operators.
      const tenantId = 1 + Math.floor(options.tenants * random() ** 2);
      const bet: OpenBet = {
        tenantId,
        betId: `bet-${runId}-${++betCounter}`,
        version: 1,
        stage: 'placed',
        amountCents: BigInt(100 + Math.floor(random() * 49_900)),
        oddsHundredths: BigInt(110 + Math.floor(random() * 900)),
      };
      open.push(bet);
      yield {
        tenantId,
        aggregateId: bet.betId,
        version: 1,
        idempotencyKey: `${bet.betId}-v1`,
        eventType: 'V1_BET_PLACED',
        eventData: {
          user_id: `user-${tenantId}-${Math.floor(random() * 5_000)}`,
          amount: formatScaled(bet.amountCents, 2),
          odds: formatScaled(bet.oddsHundredths, 2),
          selection: pick(SELECTIONS),
          currency: pick(CURRENCIES),
        },
        timestamp: now(),
      };
      continue;
    }
    const index = Math.floor(random() * open.length);
    const bet = open[index] as OpenBet;
    bet.version++;
    const envelope = {
      tenantId: bet.tenantId,
      aggregateId: bet.betId,
      version: bet.version,
      idempotencyKey: `${bet.betId}-v${bet.version}`,
      timestamp: now(),
    };
    const close = () => {
      open[index] = open[open.length - 1] as OpenBet;
      open.pop();
    };
    const r = random();
    if (bet.stage === 'placed') {
      if (r < 0.9) {
        bet.stage = 'accepted';
        yield { ...envelope, eventType: 'V1_BET_ACCEPTED', eventData: {} };
      } else {
        close();
        yield { ...envelope, eventType: 'V1_BET_REJECTED', eventData: { reason: 'odds changed' } };
      }
      continue;
    }
    close();
    if (r < 0.8) {
      const outcome = random();
      const result = outcome < 0.4 ? 'won' : outcome < 0.9 ? 'lost' : 'void';
      // amount (2 dp) × odds (2 dp) = payout in 4 dp, exactly.
      const payout =
        result === 'won'
          ? bet.amountCents * bet.oddsHundredths
          : result === 'void'
            ? bet.amountCents * 100n
            : 0n;
      yield {
        ...envelope,
        eventType: 'V1_BET_SETTLED',
        eventData: { result, payout: formatScaled(payout, 4) },
      };
    } else if (r < 0.9) {
      const percent = BigInt(20 + Math.floor(random() * 90));
      yield {
        ...envelope,
        eventType: 'V1_BET_CASHED_OUT',
        eventData: { payout: formatScaled(bet.amountCents * percent, 4) },
      };
    } else {
      yield { ...envelope, eventType: 'V1_BET_CANCELLED', eventData: { reason: 'event postponed' } };
    }
  }
}
