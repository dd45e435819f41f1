import { formatScaled, simulateEvents } from '../../src/simulate/generator.js';
import { parseEvent } from '../../src/events/validate.js';
import { toEnvelopeJson } from '../../src/events/types.js';

describe('simulateEvents', () => {
  const events = [...simulateEvents({ seed: 42, events: 5_000, tenants: 10, now: () => 1_790_000_000_000 })];

  it('is reproducible for a seed', () => {
    expect([
      ...simulateEvents({ seed: 42, events: 5_000, tenants: 10, now: () => 1_790_000_000_000 }),
    ]).toEqual(events);
  });

  it('emits valid events with contiguous versions per bet and unique idempotency keys', () => {
    const versions = new Map<string, number>();
    for (const e of events) {
      expect(parseEvent(JSON.parse(JSON.stringify(toEnvelopeJson(e))))).toEqual(e);
      const key = `${e.tenantId}:${e.aggregateId}`;
      expect(e.version).toBe((versions.get(key) ?? 0) + 1);
      versions.set(key, e.version);
    }
    expect(new Set(events.map((e) => `${e.tenantId}:${e.idempotencyKey}`)).size).toBe(events.length);
  });

  it('covers every event type, several tenants, and computes a won payout exactly', () => {
    expect(new Set(events.map((e) => e.eventType)).size).toBe(6);
    expect(new Set(events.map((e) => e.tenantId)).size).toBeGreaterThan(3);
    const placed = new Map(
      events.filter((e) => e.eventType === 'V1_BET_PLACED').map((e) => [e.aggregateId, e.eventData]),
    );
    const won = events.find((e) => e.eventType === 'V1_BET_SETTLED' && e.eventData.result === 'won');
    expect(won).toBeDefined();
    const stake = placed.get(won!.aggregateId) as { amount: string; odds: string };
    const cents = BigInt(stake.amount.replace('.', ''));
    const hundredths = BigInt(stake.odds.replace('.', ''));
    expect((won!.eventData as { payout: string }).payout).toBe(formatScaled(cents * hundredths, 4));
  });
});
