/**
 * Turns untrusted input (a Kafka message, a JSON line, a caller's object) into a BetEvent, or throws
 * a ValidationError naming the field and the value. Nothing is coerced: a number where a decimal
 * string belongs is an error, because it has already lost exactness in JSON.parse.
 */
import { MONEY, ODDS, decimalProblem, isAboveOne, isZero } from './decimal.js';
import { EVENT_TYPES, SETTLEMENT_OUTCOMES, type BetEvent, type EventType, type Leg } from './types.js';

const MAX_ID_LENGTH = 200;
const MAX_TEXT_LENGTH = 1_000;
/** Timestamps must fall between 2000-01-01 and 2200-01-01: anything else is a unit or clock bug. */
const MIN_TIMESTAMP_MS = 946_684_800_000;
const MAX_TIMESTAMP_MS = 7_258_118_400_000;
const MAX_TENANT_ID = 2 ** 53 - 1;
const MAX_VERSION = 2_147_483_647;
/** An accumulator's legs: one (a single bet) to twenty. */
const MAX_LEGS = 20;

/** Every version of the placing event (V1_BET_PLACED, V2_BET_PLACED, ...) is version 1 of its bet. */
export function isPlacingType(type: string): boolean {
  return /^V[0-9]+_BET_PLACED$/.test(type);
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    problem: string,
  ) {
    super(`${field} ${show(value)} ${problem}`);
  }
}

/** A short, printable rendering of an offending value. */
export function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(fields: Fields, path: string, key: string, maxLength: number): string {
  const value = fields[key];
  const field = path + key;
  if (typeof value !== 'string') throw new ValidationError(field, value, 'must be a string');
  if (value.trim() === '') throw new ValidationError(field, value, 'must not be empty');
  // PostgreSQL's text and jsonb cannot hold U+0000: refused here, with the field's name, rather
  // than by the database with an encoding error that names neither.
  if (value.includes('\u0000')) {
    throw new ValidationError(field, value, 'contains U+0000, which PostgreSQL cannot store in text');
  }
  if (value.length > maxLength) {
    throw new ValidationError(field, value, `is longer than ${maxLength} characters`);
  }
  return value;
}

function wholeNumber(fields: Fields, key: string, min: number, max: number): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ValidationError(key, value, 'must be a whole number');
  }
  if (value < min || value > max) throw new ValidationError(key, value, `is out of range (${min}..${max})`);
  return value;
}

function money(fields: Fields, key: string, path = 'event_data.'): string {
  const value = fields[key];
  const problem = decimalProblem(value, MONEY);
  if (problem) throw new ValidationError(`${path}${key}`, value, problem);
  return value as string;
}

function stakeAmount(fields: Fields, path: string): string {
  const amount = money(fields, 'amount', path);
  if (isZero(amount)) throw new ValidationError(`${path}amount`, amount, 'must be above zero');
  return amount;
}

function odds(fields: Fields, path: string): string {
  const value = fields['odds'];
  const problem = decimalProblem(value, ODDS);
  if (problem) throw new ValidationError(`${path}odds`, value, problem);
  if (!isAboveOne(value as string)) {
    throw new ValidationError(`${path}odds`, value, 'must be above 1 (decimal odds)');
  }
  return value as string;
}

function currency(fields: Fields, path: string): string {
  const value = fields['currency'];
  if (typeof value !== 'string' || !/^[A-Z]{3}$/.test(value)) {
    throw new ValidationError(`${path}currency`, value, 'is not an ISO 4217 code such as "EUR"');
  }
  return value;
}

function object(fields: Fields, key: string, path: string): Fields {
  const value = fields[key];
  if (!isObject(value)) throw new ValidationError(path + key, value, 'must be a JSON object');
  return value;
}

/** An optional text field: absent (or null) stays absent. */
function optionalText(fields: Fields, path: string, key: string): string | undefined {
  return fields[key] === undefined || fields[key] === null
    ? undefined
    : text(fields, path, key, MAX_TEXT_LENGTH);
}

function legs(data: Fields): Leg[] {
  const value = data['legs'];
  if (!Array.isArray(value))
    throw new ValidationError('event_data.legs', value, 'must be a JSON array of legs');
  if (value.length < 1 || value.length > MAX_LEGS) {
    throw new ValidationError(
      'event_data.legs',
      value,
      `must hold 1 to ${MAX_LEGS} legs, not ${value.length}`,
    );
  }
  return value.map((leg: unknown, i) => {
    const path = `event_data.legs[${i}].`;
    if (!isObject(leg)) throw new ValidationError(path.slice(0, -1), leg, 'must be a JSON object');
    const market = optionalText(leg, path, 'market');
    return {
      selection: text(leg, path, 'selection', MAX_TEXT_LENGTH),
      odds: odds(leg, path),
      ...(market !== undefined && { market }),
    };
  });
}

function eventData(type: EventType, data: Fields): BetEvent['eventData'] {
  const p = 'event_data.';
  switch (type) {
    case 'V1_BET_PLACED': {
      // Money first: its errors are the ones a producer most needs to see.
      const amount = stakeAmount(data, p);
      const price = odds(data, p);
      const code = currency(data, p);
      return {
        user_id: text(data, p, 'user_id', MAX_ID_LENGTH),
        amount,
        odds: price,
        selection: text(data, p, 'selection', MAX_TEXT_LENGTH),
        currency: code,
      };
    }
    case 'V2_BET_PLACED': {
      const stake = object(data, 'stake', p);
      const channel = optionalText(data, p, 'channel');
      return {
        user_id: text(data, p, 'user_id', MAX_ID_LENGTH),
        stake: {
          amount: stakeAmount(stake, 'event_data.stake.'),
          currency: currency(stake, 'event_data.stake.'),
        },
        legs: legs(data),
        ...(channel !== undefined && { channel }),
      };
    }
    case 'V1_BET_ACCEPTED':
      return {};
    case 'V1_BET_REJECTED':
    case 'V1_BET_CANCELLED':
      return { reason: text(data, p, 'reason', MAX_TEXT_LENGTH) };
    case 'V1_BET_SETTLED': {
      const result = data['result'];
      if (result !== 'won' && result !== 'lost' && result !== 'void') {
        throw new ValidationError('event_data.result', result, 'is not one of won, lost, void');
      }
      return { result, payout: money(data, 'payout') };
    }
    case 'V2_BET_SETTLED': {
      const outcome = data['outcome'];
      if (!(SETTLEMENT_OUTCOMES as readonly unknown[]).includes(outcome)) {
        throw new ValidationError(
          'event_data.outcome',
          outcome,
          `is not one of ${SETTLEMENT_OUTCOMES.join(', ')}`,
        );
      }
      return { outcome: outcome as (typeof SETTLEMENT_OUTCOMES)[number], payout: money(data, 'payout') };
    }
    case 'V1_BET_CASHED_OUT':
      return { payout: money(data, 'payout') };
  }
}

/** Validates a snake_case envelope (the Kafka value / JSON line form). */
export function parseEvent(input: unknown): BetEvent {
  if (!isObject(input)) throw new ValidationError('event', input, 'must be a JSON object');
  const tenantId = wholeNumber(input, 'tenant_id', 1, MAX_TENANT_ID);
  const aggregateId = text(input, '', 'aggregate_id', MAX_ID_LENGTH);
  const version = wholeNumber(input, 'version', 1, MAX_VERSION);
  const idempotencyKey = text(input, '', 'idempotency_key', MAX_ID_LENGTH);
  const eventType = input['event_type'];
  if (typeof eventType !== 'string' || !(EVENT_TYPES as readonly string[]).includes(eventType)) {
    throw new ValidationError('event_type', eventType, `is not one of ${EVENT_TYPES.join(', ')}`);
  }
  const type = eventType as EventType;
  if (isPlacingType(type) !== (version === 1)) {
    throw new ValidationError(
      'version',
      version,
      isPlacingType(type) ? `of ${type} must be 1` : `of ${type} must be above 1`,
    );
  }
  const data = input['event_data'] ?? {};
  if (!isObject(data)) throw new ValidationError('event_data', data, 'must be a JSON object');
  const timestamp = wholeNumber(input, 'timestamp', MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS);
  return {
    tenantId,
    aggregateId,
    version,
    idempotencyKey,
    eventType: type,
    eventData: eventData(type, data),
    timestamp,
  } as BetEvent;
}

/** Decodes a raw Kafka value (UTF-8 JSON) and validates it. */
export function decodeEvent(value: Buffer | null): BetEvent {
  if (value === null || value.length === 0) throw new ValidationError('message', null, 'has no value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new ValidationError(
      'message',
      value.toString('utf8', 0, 60),
      `is not JSON (${(error as Error).message})`,
    );
  }
  return parseEvent(parsed);
}
