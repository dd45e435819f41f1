import { decimalProblem, MONEY } from '../../src/events/decimal.js';
import { decodeEvent, parseEvent, ValidationError } from '../../src/events/validate.js';

const placed = {
  tenant_id: 7,
  aggregate_id: 'bet-1',
  version: 1,
  idempotency_key: 'k-1',
  event_type: 'V1_BET_PLACED',
  event_data: { user_id: 'u-1', amount: '12.50', odds: '1.85', selection: 'home', currency: 'EUR' },
  timestamp: 1_790_000_000_000,
};

function errorOf(input: unknown): string {
  try {
    parseEvent(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('parseEvent', () => {
  it('accepts a well-formed placing event and keeps money as strings', () => {
    const event = parseEvent(placed);
    expect(event.eventType).toBe('V1_BET_PLACED');
    expect(event.eventData).toEqual(placed.event_data);
  });

  it.each([
    [{ amount: '12,5' }, 'event_data.amount "12,5" is not a decimal'],
    [{ amount: '1e999' }, 'event_data.amount "1e999" is not a decimal'],
    [{ amount: 12.5 }, 'event_data.amount 12.5 must be a decimal string'],
    [
      { amount: '99999999999999999' },
      'event_data.amount "99999999999999999" has more than 16 digits before the point',
    ],
    [{ amount: '1.00001' }, 'event_data.amount "1.00001" has more than 4 digits after the point'],
    [{ amount: '0.00' }, 'event_data.amount "0.00" must be above zero'],
    [{ odds: '1.00' }, 'event_data.odds "1.00" must be above 1'],
    [{ currency: 'euro' }, 'event_data.currency "euro" is not an ISO 4217 code'],
    [{ user_id: '' }, 'event_data.user_id "" must not be empty'],
  ])('rejects event_data %j naming the field and the value', (patch, message) => {
    expect(errorOf({ ...placed, event_data: { ...placed.event_data, ...patch } })).toContain(message);
  });

  it.each([
    [{ tenant_id: undefined }, 'tenant_id (missing) must be a whole number'],
    [{ tenant_id: '7' }, 'tenant_id "7" must be a whole number'],
    [{ tenant_id: 0 }, 'tenant_id 0 is out of range'],
    [{ event_type: 'V3_BET_PLACED' }, 'event_type "V3_BET_PLACED" is not one of'],
    [{ version: 2 }, 'version 2 of V1_BET_PLACED must be 1'],
    [{ timestamp: 1_790_000_000 }, 'timestamp 1790000000 is out of range'],
    [{ aggregate_id: 42 }, 'aggregate_id 42 must be a string'],
  ])('rejects envelope %j', (patch, message) => {
    expect(errorOf({ ...placed, ...patch })).toContain(message);
  });

  it('checks each event type for its own fields', () => {
    const settle = { ...placed, version: 3, event_type: 'V1_BET_SETTLED' };
    expect(errorOf({ ...settle, event_data: { result: 'draw', payout: '1' } })).toContain(
      'event_data.result "draw" is not one of won, lost, void',
    );
    expect(errorOf({ ...settle, event_data: { result: 'won' } })).toContain(
      'event_data.payout (missing) is not a decimal',
    );
    expect(parseEvent({ ...settle, event_data: { result: 'won', payout: '23.1250' } }).eventData).toEqual({
      result: 'won',
      payout: '23.1250',
    });
  });

  describe('V2 events', () => {
    const placedV2 = {
      ...placed,
      event_type: 'V2_BET_PLACED',
      event_data: {
        user_id: 'u-1',
        stake: { amount: '12.50', currency: 'EUR' },
        legs: [
          { selection: 'home', odds: '1.85', market: '1X2' },
          { selection: 'over 2.5', odds: '2.1000' },
        ],
        channel: 'mobile',
      },
    };
    const leg = { selection: 'home', odds: '1.85' };
    const withData = (patch: object) => ({ ...placedV2, event_data: { ...placedV2.event_data, ...patch } });

    it("accepts the issue's example as given (odds as strings, market and channel optional)", () => {
      const event = parseEvent(placedV2);
      expect(event.eventType).toBe('V2_BET_PLACED');
      expect(event.eventData).toEqual(placedV2.event_data);
      const withoutChannel: Partial<typeof placedV2.event_data> = { ...placedV2.event_data };
      delete withoutChannel.channel;
      expect(parseEvent({ ...placedV2, event_data: withoutChannel }).eventData).toEqual(withoutChannel);
    });

    it.each([
      [{ legs: [] }, 'event_data.legs [] must hold 1 to 20 legs, not 0'],
      [{ legs: undefined }, 'event_data.legs (missing) must be a JSON array of legs'],
      [{ legs: Array.from({ length: 21 }, () => leg) }, 'must hold 1 to 20 legs, not 21'],
      [{ legs: [leg, { ...leg, odds: '1' }] }, 'event_data.legs[1].odds "1" must be above 1'],
      [{ legs: [{ ...leg, odds: '0.95' }] }, 'event_data.legs[0].odds "0.95" must be above 1'],
      [
        { legs: [{ ...leg, odds: '1.85001' }] },
        'event_data.legs[0].odds "1.85001" has more than 4 digits after the point',
      ],
      [{ legs: [{ ...leg, odds: 1.85 }] }, 'event_data.legs[0].odds 1.85 must be a decimal string'],
      [{ legs: [{ odds: '1.85' }] }, 'event_data.legs[0].selection (missing) must be a string'],
      [{ legs: [{ ...leg, market: 7 }] }, 'event_data.legs[0].market 7 must be a string'],
      [{ stake: { amount: '12.50' } }, 'event_data.stake.currency (missing) is not an ISO 4217 code'],
      [{ stake: { amount: '0', currency: 'EUR' } }, 'event_data.stake.amount "0" must be above zero'],
      [{ stake: '12.50' }, 'event_data.stake "12.50" must be a JSON object'],
      [{ channel: '' }, 'event_data.channel "" must not be empty'],
    ])('rejects V2_BET_PLACED data %j naming the field and the value', (patch, message) => {
      expect(errorOf(withData(patch))).toContain(message);
    });

    it('keeps V2_BET_PLACED at version 1', () => {
      expect(errorOf({ ...placedV2, version: 2 })).toContain('version 2 of V2_BET_PLACED must be 1');
    });

    it('reads V2_BET_SETTLED outcomes, partially_won among them', () => {
      const settled = { ...placed, version: 3, event_type: 'V2_BET_SETTLED' };
      expect(
        parseEvent({ ...settled, event_data: { outcome: 'partially_won', payout: '4.20' } }).eventData,
      ).toEqual({
        outcome: 'partially_won',
        payout: '4.20',
      });
      expect(errorOf({ ...settled, event_data: { outcome: 'half_won', payout: '1' } })).toContain(
        'event_data.outcome "half_won" is not one of won, lost, void, partially_won',
      );
      expect(errorOf({ ...settled, event_data: { result: 'won', payout: '1' } })).toContain(
        'event_data.outcome (missing) is not one of',
      );
      expect(errorOf({ ...settled, version: 1 })).toContain('version 1 of V2_BET_SETTLED must be above 1');
    });
  });

  it.each([
    ['null', 'event null must be a JSON object'],
    ['[1,2]', 'event [1,2] must be a JSON object'],
    ['{not json', 'message "{not json" is not JSON'],
  ])('decodes raw %s into a one-line error', (raw, message) => {
    expect(() => decodeEvent(Buffer.from(raw))).toThrow(message);
  });
});

describe('decimalProblem', () => {
  it('accepts exact decimals within NUMERIC(20,4)', () => {
    for (const ok of ['0', '0.5', '12.50', '9999999999999999.9999', '007.1'])
      expect(decimalProblem(ok, MONEY)).toBeUndefined();
    for (const bad of ['-1', '+1', '.5', '5.', 'NaN', 'Infinity', ' 1', '1 ', '0x10']) {
      expect(decimalProblem(bad, MONEY)).toBe('is not a decimal');
    }
  });
});
