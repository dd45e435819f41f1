import { setTimeout as sleep } from 'node:timers/promises';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { inSpan, markTracingStarted, trace } from '../../src/observability/tracing.js';
import type { BetEvent } from '../../src/events/types.js';
import { groupCommits } from '../../src/store/groupCommit.js';

type Mode = 'async' | 'immediate';

let serial = 0;
/** An event of bet `bet` (tenant 1); only the fields grouping looks at matter. */
function event(bet: string, version = 1): BetEvent {
  serial++;
  return {
    tenantId: 1,
    aggregateId: bet,
    version,
    idempotencyKey: `k${serial}`,
    eventType: 'V1_BET_PLACED',
    eventData: {},
    timestamp: 0,
  } as unknown as BetEvent;
}

/**
 * A store whose transactions wait to be released one by one, recording what each carried. Events
 * whose bet is named in `refused` make the transaction that holds them fail; `duplicates` are
 * stored already (not returned as appended).
 */
function heldStore(options: { refused?: string; duplicates?: Set<BetEvent> } = {}) {
  const transactions: Array<{ events: readonly BetEvent[]; mode: Mode; release: () => void }> = [];
  let running = 0;
  let mostAtOnce = 0;
  const store = async (events: readonly BetEvent[], mode: Mode): Promise<BetEvent[]> => {
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    await new Promise<void>((release) => transactions.push({ events, mode, release }));
    running--;
    if (events.some((e) => e.aggregateId === options.refused))
      throw new Error(`bet ${options.refused} refused`);
    return events.filter((e) => !options.duplicates?.has(e));
  };
  return {
    store,
    transactions,
    mostAtOnce: () => mostAtOnce,
    /** Waits until `count` transactions have started. */
    async started(count: number) {
      while (transactions.length < count) await sleep(1);
    },
    releaseAll() {
      for (const t of transactions) t.release();
    },
  };
}

const bets = (events: readonly BetEvent[]) => events.map((e) => e.aggregateId);

describe('group commit of concurrent appends', () => {
  it('an append that finds a transaction free goes at once, alone', async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 2, maxEvents: 100 });
    const a = [event('a'), event('a', 2)];
    const done = append(a, 'async');
    await held.started(1);
    expect(held.transactions[0]!.events).toEqual(a);
    held.releaseAll();
    await expect(done).resolves.toEqual(a);
  });

  it('appends that arrive while every transaction is busy share the next one, each told of its own events only', async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 1, maxEvents: 100 });
    const first = append([event('a')], 'immediate');
    await held.started(1);
    const waiting = [[event('b')], [event('c'), event('c', 2)], [event('d')]];
    const answers = waiting.map((events) => append(events, 'immediate'));
    await sleep(5);
    expect(held.transactions).toHaveLength(1);
    held.transactions[0]!.release();
    await held.started(2);
    expect(bets(held.transactions[1]!.events)).toEqual(['b', 'c', 'c', 'd']);
    held.transactions[1]!.release();
    await first;
    for (const [i, answer] of answers.entries()) await expect(answer).resolves.toEqual(waiting[i]);
  });

  it('never more transactions at once than allowed', async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 3, maxEvents: 100 });
    const answers = Array.from({ length: 40 }, (_, i) => append([event(`bet-${i}`)], 'async'));
    await held.started(3);
    await sleep(5);
    expect(held.transactions).toHaveLength(3);
    // The first of them to end takes the 37 waiting into one.
    held.releaseAll();
    await held.started(4);
    held.releaseAll();
    await Promise.all(answers);
    expect(held.mostAtOnce()).toBe(3);
    expect(held.transactions.map((t) => t.events.length)).toEqual([1, 1, 1, 37]);
    expect(held.transactions.flatMap((t) => bets(t.events)).sort()).toEqual(
      Array.from({ length: 40 }, (_, i) => `bet-${i}`).sort(),
    );
  });

  it("a group holds one append of a bet: the bet's later append goes in a later transaction, and so does whatever shares a bet with it", async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 1, maxEvents: 100 });
    void append([event('z')], 'async');
    await held.started(1);
    const answers = [
      append([event('a')], 'async'),
      append([event('a', 2)], 'async'),
      append([event('b'), event('a', 3)], 'async'),
      append([event('b', 2)], 'async'),
      append([event('c')], 'async'),
    ];
    held.transactions[0]!.release();
    await held.started(2);
    expect(bets(held.transactions[1]!.events)).toEqual(['a', 'c']);
    held.transactions[1]!.release();
    await held.started(3);
    expect(bets(held.transactions[2]!.events)).toEqual(['a']);
    held.transactions[2]!.release();
    await held.started(4);
    expect(bets(held.transactions[3]!.events)).toEqual(['b', 'a']);
    held.transactions[3]!.release();
    await held.started(5);
    expect(bets(held.transactions[4]!.events)).toEqual(['b']);
    held.transactions[4]!.release();
    await Promise.all(answers);
  });

  it('a group holds one append of an idempotency key: a second claiming it, on another bet, goes in a later transaction', async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 1, maxEvents: 100 });
    void append([event('z')], 'immediate');
    await held.started(1);
    const claimed = event('a');
    const sameKey = { ...event('b'), idempotencyKey: claimed.idempotencyKey };
    const answers = [
      append([claimed], 'immediate'),
      append([sameKey], 'immediate'),
      append([event('c')], 'immediate'),
    ];
    held.transactions[0]!.release();
    await held.started(2);
    expect(bets(held.transactions[1]!.events)).toEqual(['a', 'c']);
    held.transactions[1]!.release();
    await held.started(3);
    expect(bets(held.transactions[2]!.events)).toEqual(['b']);
    held.transactions[2]!.release();
    await Promise.all(answers);
  });

  it('a group holds one mode, and no more events than its bound (a larger append goes alone)', async () => {
    const held = heldStore();
    const append = groupCommits(held.store, { maxTransactions: 1, maxEvents: 3 });
    void append([event('z')], 'async');
    await held.started(1);
    const large = ['p', 'q', 'r', 's'].map((b) => event(b));
    const answers = [
      append(large, 'async'),
      append([event('a')], 'immediate'),
      append([event('b')], 'async'),
      append([event('c')], 'immediate'),
      append([event('d')], 'immediate'),
      append([event('e')], 'immediate'),
      append([event('f')], 'immediate'),
    ];
    for (let i = 0; i < 4; i++) {
      held.transactions[i]!.release();
      await held.started(i + 2);
    }
    held.transactions[4]!.release();
    await Promise.all(answers);
    expect(held.transactions.slice(1).map((t) => [t.mode, bets(t.events).join('')])).toEqual([
      ['async', 'pqrs'],
      ['immediate', 'acd'],
      ['async', 'b'],
      ['immediate', 'ef'],
    ]);
  });

  it('a group that fails is told, then stored append by append: the append that failed it hears its own error, the others succeed (even when the hook told throws)', async () => {
    const duplicate = event('d');
    const held = heldStore({ refused: 'bad', duplicates: new Set([duplicate]) });
    const told: Array<[string, number]> = [];
    const append = groupCommits(held.store, {
      maxTransactions: 1,
      maxEvents: 100,
      onGroupFailed: (error, appends) => {
        told.push([String(error), appends]);
        throw new Error('the log is down');
      },
    });
    void append([event('z')], 'immediate');
    await held.started(1);
    const good = [event('a')];
    const answers = [
      append(good, 'immediate'),
      append([event('bad')], 'immediate'),
      append([duplicate, event('e')], 'immediate'),
    ];
    const settling = Promise.allSettled(answers);
    held.transactions[0]!.release();
    await held.started(2);
    expect(bets(held.transactions[1]!.events)).toEqual(['a', 'bad', 'd', 'e']);
    held.transactions[1]!.release();
    // Then each alone, no more at once than the transactions allowed.
    for (let i = 2; i < 5; i++) {
      await held.started(i + 1);
      held.transactions[i]!.release();
    }
    expect(held.transactions.slice(2).map((t) => bets(t.events).join(''))).toEqual(['a', 'bad', 'de']);
    expect(held.mostAtOnce()).toBe(1);
    expect(told).toEqual([['Error: bet bad refused', 3]]);
    const settled = await settling;
    expect(settled[0]).toEqual({ status: 'fulfilled', value: good });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: new Error('bet bad refused') });
    // A duplicate is not appended: only its companion is.
    expect(settled[2]).toEqual({ status: 'fulfilled', value: [answersEvent(held, 'e')] });
  });
});

function answersEvent(held: ReturnType<typeof heldStore>, bet: string): BetEvent {
  return held.transactions.flatMap((t) => t.events).find((e) => e.aggregateId === bet)!;
}

describe('group commit, traced', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    provider.register();
    markTracingStarted(true);
  });
  afterAll(async () => {
    markTracingStarted(false);
    trace.disable();
    await provider.shutdown();
  });

  it("an append alone runs in its caller's span; a shared transaction under an `append group` span, a child of its first caller's and linked to the others'", async () => {
    const held = heldStore();
    /** The span active when the store ran each transaction. */
    const activeAt: Array<string | undefined> = [];
    const append = groupCommits(
      (events, mode: Mode) => {
        activeAt.push(trace.getActiveSpan()?.spanContext().spanId);
        return held.store(events, mode);
      },
      { maxTransactions: 1, maxEvents: 100 },
    );
    const callers: Record<string, string> = {};
    const appendAs = (name: string) =>
      inSpan(name, {}, (span) => {
        callers[name] = span.spanContext().spanId;
        return append([event(name)], 'async');
      });
    const a = appendAs('a');
    await held.started(1);
    const others = [appendAs('b'), appendAs('c'), appendAs('d')];
    held.transactions[0]!.release();
    await held.started(2);
    held.transactions[1]!.release();
    await Promise.all([a, ...others]);
    const group = exporter.getFinishedSpans().find((s) => s.name === 'append group')!;
    expect(activeAt).toEqual([callers['a'], group.spanContext().spanId]);
    expect(group.parentSpanContext?.spanId).toBe(callers['b']);
    expect(group.links.map((l) => l.context.spanId)).toEqual([callers['c'], callers['d']]);
    expect(group.attributes).toMatchObject({ 'bet_projector.appends': 3, 'bet_projector.events': 3 });
  });
});
