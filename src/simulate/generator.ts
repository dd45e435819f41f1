/**
 * A realistic multi-tenant betting stream, deterministic for a seed: bets are placed, then accepted
 * or rejected, then settled (won/lost/void, and partially won for accumulators), cashed out or
 * cancelled, interleaved across many open bets and tenants of uneven size. A share of the bets is
 * placed and settled by V2 events, some of them accumulators. Money is computed in integer minor
 * units, never floats.
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
  /** The share of bets placed and settled by V2 events (0..1, default 0: V1 only). */
  readonly v2Share?: number;
  /** The share of V2 bets that are accumulators of 2 to 6 legs (0..1, default 0.3). */
  readonly accumulatorShare?: number;
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
  /** Each leg's odds, in hundredths; V1 bets have one leg. */
  legOdds: bigint[];
  v2: boolean;
}

/** Stake (2 places) × each leg's odds (2 places): exact, in 10^-(2 + 2 × legs) units. */
function winnings(bet: OpenBet): { units: bigint; scale: number } {
  return { units: bet.legOdds.reduce((p, o) => p * o, bet.amountCents), scale: 2 + 2 * bet.legOdds.length };
}

/** A payout in 4 places (what the money columns hold), rounded down from a finer exact amount. */
function payoutOf(units: bigint, scale: number): string {
  return formatScaled(scale <= 4 ? units * 10n ** BigInt(4 - scale) : units / 10n ** BigInt(scale - 4), 4);
}

const SELECTIONS = ['home', 'draw', 'away', 'over 2.5', 'under 2.5', 'both teams score'];
const CURRENCIES = ['EUR', 'GBP', 'USD'];
const MARKETS = ['1X2', 'totals', 'handicap', null];
const CHANNELS = ['mobile', 'web', 'retail', null];

export function* simulateEvents(options: SimulationOptions): Generator<BetEvent> {
  const random = seededRandom(options.seed);
  const now = options.now ?? Date.now;
  const openTarget = options.openBets ?? 1_000;
  const open: OpenBet[] = [];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const runId = options.seed.toString(36);
  const v2Share = options.v2Share ?? 0;
  const accumulatorShare = options.accumulatorShare ?? 0.3;
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
      const amountCents = BigInt(100 + Math.floor(random() * 49_900));
      const v2 = v2Share > 0 && random() < v2Share;
      const legs = v2 && random() < accumulatorShare ? 2 + Math.floor(random() * 5) : 1;
      const legOdds = Array.from({ length: legs }, () =>
        BigInt(legs === 1 ? 110 + Math.floor(random() * 900) : 110 + Math.floor(random() * 290)),
      );
      const bet: OpenBet = {
        tenantId,
        betId: `bet-${runId}-${++betCounter}`,
        version: 1,
        stage: 'placed',
        amountCents,
        legOdds,
        v2,
      };
      open.push(bet);
      const userId = `user-${tenantId}-${Math.floor(random() * 5_000)}`;
      const envelope = { tenantId, aggregateId: bet.betId, version: 1, idempotencyKey: `${bet.betId}-v1` };
      if (!v2) {
        yield {
          ...envelope,
          eventType: 'V1_BET_PLACED',
          eventData: {
            user_id: userId,
            amount: formatScaled(amountCents, 2),
            odds: formatScaled(legOdds[0]!, 2),
            selection: pick(SELECTIONS),
            currency: pick(CURRENCIES),
          },
          timestamp: now(),
        };
      } else {
        const currency = pick(CURRENCIES);
        const channel = pick(CHANNELS);
        yield {
          ...envelope,
          eventType: 'V2_BET_PLACED',
          eventData: {
            user_id: userId,
            stake: { amount: formatScaled(amountCents, 2), currency },
            legs: legOdds.map((odds) => {
              const market = pick(MARKETS);
              return {
                selection: pick(SELECTIONS),
                odds: formatScaled(odds, 2),
                ...(market !== null && { market }),
              };
            }),
            ...(channel !== null && { channel }),
          },
          timestamp: now(),
        };
      }
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
      const partly = bet.legOdds.length > 1 && outcome >= 0.3 && outcome < 0.4;
      const result = partly ? 'partially_won' : outcome < 0.4 ? 'won' : outcome < 0.9 ? 'lost' : 'void';
      const won = winnings(bet);
      const payout =
        result === 'won'
          ? payoutOf(won.units, won.scale)
          : result === 'partially_won'
            ? payoutOf(won.units / 3n, won.scale)
            : result === 'void'
              ? formatScaled(bet.amountCents * 100n, 4)
              : formatScaled(0n, 4);
      yield bet.v2
        ? { ...envelope, eventType: 'V2_BET_SETTLED', eventData: { outcome: result, payout } }
        : {
            ...envelope,
            eventType: 'V1_BET_SETTLED',
            eventData: { result: result as 'won' | 'lost' | 'void', payout },
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
