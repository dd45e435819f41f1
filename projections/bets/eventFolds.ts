/**
 * What each event type does to a bet, declared once. Old types are read as the current ones here
 * (V1_BET_PLACED as a bet of one leg, V1_BET_SETTLED's `result` as V2's `outcome`): stored events
 * are never rewritten. The reducer (reducer.ts) interprets this table in Node and the rebuild's fill
 * (fillStatement.ts) is generated from it in SQL, so the worker, immediate mode, the rebuild, lag
 * and repair all fold by it; a property test holds the two to each other over mixed V1/V2 streams.
 *
 * Fields are named by their path in the event's data (`stake.amount`): the same path is read in
 * Node and as `event_data #>> '{stake,amount}'` in SQL. Adding a type is one line here, its data's
 * validation (src/events/validate.ts) and its name in EVENT_TYPES (README, "Evolving events").
 */
import type { EventType } from '../../src/events/types.js';
import type { BetStatus } from './row.js';

/** A dotted path into an event's data. */
export type DataPath = string;

/** How a placing event's data reads as a bet's user, stake, legs and channel. */
export interface PlacementReading {
  readonly userId: DataPath;
  readonly amount: DataPath;
  readonly currency: DataPath;
  /** Where the legs are: a list of `{selection, odds, market?}`, or one leg spelled in the data. */
  readonly legs: { readonly list: DataPath } | { readonly single: { selection: DataPath; odds: DataPath } };
  /** Where the channel is, or null for types that have none. */
  readonly channel: DataPath | null;
}

export interface EventFold {
  /** The bet's status after the event: a fixed one, or the one a field of its data names. */
  readonly status: BetStatus | { readonly field: DataPath };
  /** The field whose decimal becomes the bet's payout, for the types that pay out. */
  readonly payout?: DataPath;
  /** For the types that place a bet (always version 1): how their data reads as the bet. */
  readonly places?: PlacementReading;
}

export const EVENT_FOLDS: { readonly [T in EventType]: EventFold } = {
  V1_BET_PLACED: {
    status: 'placed',
    places: {
      userId: 'user_id',
      amount: 'amount',
      currency: 'currency',
      legs: { single: { selection: 'selection', odds: 'odds' } },
      channel: null,
    },
  },
  V2_BET_PLACED: {
    status: 'placed',
    places: {
      userId: 'user_id',
      amount: 'stake.amount',
      currency: 'stake.currency',
      legs: { list: 'legs' },
      channel: 'channel',
    },
  },
  V1_BET_ACCEPTED: { status: 'accepted' },
  V1_BET_REJECTED: { status: 'rejected' },
  V1_BET_CANCELLED: { status: 'cancelled' },
  V1_BET_SETTLED: { status: { field: 'result' }, payout: 'payout' },
  V2_BET_SETTLED: { status: { field: 'outcome' }, payout: 'payout' },
  V1_BET_CASHED_OUT: { status: 'cashed_out', payout: 'payout' },
};

/** The types of each role, in EVENT_FOLDS' order. */
export const PLACING_TYPES = typesWhere((f) => f.places !== undefined);
export const PAYING_TYPES = typesWhere((f) => f.payout !== undefined);

function typesWhere(test: (fold: EventFold) => boolean): EventType[] {
  return (Object.keys(EVENT_FOLDS) as EventType[]).filter((t) => test(EVENT_FOLDS[t]));
}

/**
 * A path as the keys it walks. Keys are lower-case identifiers: they are spelled into SQL (a jsonb
 * path such as '{stake,amount}'), never bound, so nothing else may pass.
 */
export function pathKeys(path: DataPath): string[] {
  const keys = path.split('.');
  for (const key of keys) {
    if (!/^[a-z][a-z0-9_]*$/.test(key))
      throw new Error(`EVENT_FOLDS: path "${path}" has a key "${key}" that is not an identifier`);
  }
  return keys;
}
