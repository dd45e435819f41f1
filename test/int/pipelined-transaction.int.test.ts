/**
 * The flush's one-round-trip transaction against real PostgreSQL: everything is sent before any
 * answer is read, a failure anywhere applies nothing and surfaces the statement that failed, and
 * the connection goes back to the pool clean.
 */
import pg from 'pg';
import { createFlusher } from '../../consumers/flush.js';
import type { EventItem } from '../../consumers/messages.js';
import { createPool, inPipelinedTransaction, inTwoStepTransaction, type Pool } from '../../src/db/pool.js';
import { dialectOf } from '../../src/db/platform.js';
import { silentLogger } from '../../src/observability/logger.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createProjection as createBetsProjection, FOLLOWERS } from '../../projections/registry.js';
import { RowCache } from '../../projections/bets/rowCache.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { noPublisher } from '../../src/kafka/publisher.js';
import { createEventStore } from '../../src/store/eventStore.js';
import { inlineProjection } from '../../projections/registry.js';

/**
 * What went over the wire, in order: `send` when a statement is written (a simple query, or the
 * Sync that ends an extended one), `answer` when the server says it is ready for the next — logged
 * before node-postgres reacts to it, so a client that waits for each answer shows
 * send, answer, send, answer… `written`, if given, gets what each send was: a simple query's text
 * (BEGIN, COMMIT) or `statement` for an extended one.
 */
async function wireLog(work: () => Promise<unknown>, written: string[] = []): Promise<string[]> {
  const log: string[] = [];
  const proto = pg.Connection.prototype as unknown as {
    query: (this: unknown, text: string) => void;
    sync: (this: unknown) => void;
    emit: (this: unknown, event: string, ...args: unknown[]) => boolean;
  };
  const { query, sync, emit } = proto;
  proto.query = function (this: unknown, text: string) {
    log.push('send');
    written.push(text);
    return query.call(this, text);
  };
  proto.sync = function (this: unknown) {
    log.push('send');
    written.push('statement');
    return sync.call(this);
  };
  proto.emit = function (this: unknown, event: string, ...args: unknown[]) {
    if (event === 'readyForQuery') log.push('answer');
    return emit.call(this, event, ...args);
  };
  try {
    await work();
    // A new connection's own ready-for-query, after its startup, is not an answer to us.
    return log.slice(log.indexOf('send'));
  } finally {
    Object.assign(proto, { query, sync, emit });
  }
}

/**
 * Where writes do not chain (Citus), what follows the UPSERT's answer: one round trip with a sum per
 * follower, then one with their additions (at least one statement), the checkpoint if any and
 * COMMIT — each all sent before any answer.
 */
function afterTheUpsert(log: readonly string[]): boolean {
  const sums = FOLLOWERS.length;
  const first = [...Array<string>(sums).fill('send'), ...Array<string>(sums).fill('answer')];
  const rest = log.slice(first.length);
  const sent = rest.filter((x) => x === 'send').length;
  return (
    log.slice(0, first.length).join() === first.join() &&
    sent >= 2 &&
    rest.join() === [...Array<string>(sent).fill('send'), ...Array<string>(sent).fill('answer')].join()
  );
}

describe('one-round-trip transactions on real PostgreSQL', () => {
  let db: TestDatabase;
  let single: Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection, so a connection left dirty would fail the next transaction.
    single = createPool({ databaseUrl: db.url, dbPoolMax: 1 }, 'bet-projector:test-pipeline');
    await db.pool.query('CREATE TABLE probe (id integer PRIMARY KEY)');
  });
  afterAll(async () => {
    await single.end();
    await db.drop();
  });
  beforeEach(async () => db.pool.query('TRUNCATE probe'));

  const insert = (client: pg.PoolClient, id: number) =>
    client.query({ text: 'INSERT INTO probe (id) VALUES ($1)', values: [id] });
  const ids = async () => (await db.pool.query<{ id: number }>('SELECT id FROM probe ORDER BY id')).rows;

  it('sends BEGIN, every statement and COMMIT before reading any answer, and commits them', async () => {
    const log = await wireLog(() =>
      inPipelinedTransaction<[pg.QueryResult, pg.QueryResult]>(single, (c) => [insert(c, 1), insert(c, 2)]),
    );
    expect(log).toEqual(['send', 'send', 'send', 'send', 'answer', 'answer', 'answer', 'answer']);
    expect(await ids()).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('a failing statement applies nothing, is the error thrown, and leaves the connection clean', async () => {
    const failed = inPipelinedTransaction<unknown[]>(single, (c) => [
      insert(c, 1),
      c.query('SELECT 1 / 0'),
      insert(c, 2),
    ]);
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    expect(await ids()).toEqual([]);
    await inPipelinedTransaction<[pg.QueryResult]>(single, (c) => [insert(c, 3)]);
    expect(await ids()).toEqual([{ id: 3 }]);
  });

  it('a statement builder that throws applies nothing and leaves the connection clean', async () => {
    const failed = inPipelinedTransaction<unknown[]>(single, (c) => {
      void insert(c, 1).catch(() => undefined);
      throw new Error('cannot build the batch');
    });
    await expect(failed).rejects.toThrow('cannot build the batch');
    expect(await ids()).toEqual([]);
    await inPipelinedTransaction<[pg.QueryResult]>(single, (c) => [insert(c, 4)]);
    expect(await ids()).toEqual([{ id: 4 }]);
  });

  it('two steps: BEGIN and the first write, then what its answer decided with COMMIT; a failure in the second applies nothing', async () => {
    const first = async (c: pg.PoolClient) => {
      const { rows } = await c.query<{ id: number }>('INSERT INTO probe (id) VALUES (1), (2) RETURNING id');
      // Sent once answered, awaited by the second step (the Citus followers' form).
      const inFlight = c.query({
        text: 'INSERT INTO probe (id) SELECT 10 * $1::integer',
        values: [rows.length],
      });
      inFlight.catch(() => undefined);
      return { inFlight };
    };
    const log = await wireLog(() =>
      inTwoStepTransaction(single, first, (c, answer) => [answer.inFlight, insert(c, 3)] as const),
    );
    expect(log).toEqual([
      'send',
      'send',
      'answer',
      'answer',
      'send',
      'send',
      'send',
      'answer',
      'answer',
      'answer',
    ]);
    expect(await ids()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 20 }]);

    await db.pool.query('TRUNCATE probe');
    const failed = inTwoStepTransaction(
      single,
      first,
      (c, answer) => [answer.inFlight, c.query('SELECT 1 / 0')] as const,
    );
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    expect(await ids()).toEqual([]);
    await inPipelinedTransaction<[pg.QueryResult]>(single, (c) => [insert(c, 4)]);
    expect(await ids()).toEqual([{ id: 4 }]);
  });

  it("the worker's flush is one round trip (three where writes do not chain, Citus) when it remembers or need not read the rows", async () => {
    const chained = dialectOf(db.workerPool).chainedWrites;
    const events = [...simulateEvents({ seed: 77, events: 300, tenants: 2, openBets: 10, now: () => 1 })];
    const items: EventItem[] = events.map((event, offset) => ({
      kind: 'event',
      topic: 't',
      partition: 0,
      offset,
      event,
    }));
    const flush = createFlusher({
      pool: db.workerPool,
      projection: createBetsProjection({ rowCache: new RowCache(1_000) }),
      checkpointName: 'pipeline-test',
      retry: { initialMs: 10, maxMs: 10, maxAttempts: 1 },
      logger: silentLogger,
    });
    for (let i = 0; i < items.length; i += 100) {
      const written: string[] = [];
      const log = await wireLog(() => flush(items.slice(i, i + 100)), written);
      // Nothing of the transaction is written after its COMMIT.
      expect(written.at(-1)).toBe('COMMIT');
      if (chained) {
        // BEGIN, the bets_view UPSERT (the followers' additions in it), the checkpoint, COMMIT: no
        // read, and nothing waits.
        expect(log).toEqual(['send', 'send', 'send', 'send', 'answer', 'answer', 'answer', 'answer']);
        continue;
      }
      // BEGIN and the UPSERT; once answered, each follower's change summed over what it accepted;
      // then their additions, the checkpoint and COMMIT.
      expect(log.slice(0, 4)).toEqual(['send', 'send', 'answer', 'answer']);
      expect(afterTheUpsert(log.slice(4))).toBe(true);
    }
    const { rows } = await db.pool.query<{ next_offset: number }>(
      "SELECT next_offset FROM projection_checkpoints WHERE projection = 'pipeline-test'",
    );
    expect(rows).toEqual([{ next_offset: 300 }]);
  });
  it("an immediate append is two round trips where writes chain: BEGIN and the insert, then the read models' writes and COMMIT (on Citus the UPSERT and the followers' sums are answered between)", async () => {
    const chained = dialectOf(db.workerPool).chainedWrites;
    const store = createEventStore({ pool: db.workerPool, publisher: noPublisher, inline: inlineProjection });
    const placements = [
      ...simulateEvents({ seed: 78, events: 40, tenants: 2, openBets: 10, now: () => 1 }),
    ].filter((e) => e.version === 1);
    for (const placement of placements.slice(0, 5)) {
      const written: string[] = [];
      const log = await wireLog(() => store.append([placement], { projection: 'immediate' }), written);
      expect(written.at(-1)).toBe('COMMIT');
      expect(log.slice(0, 4)).toEqual(['send', 'send', 'answer', 'answer']);
      if (chained) {
        // The UPSERT (the followers' additions in it) and COMMIT: nothing waits between them.
        expect(log.slice(4)).toEqual(['send', 'send', 'answer', 'answer']);
        continue;
      }
      // The UPSERT alone; once answered, the followers' sums; then their additions and COMMIT.
      expect(log.slice(4, 6)).toEqual(['send', 'answer']);
      expect(afterTheUpsert(log.slice(6))).toBe(true);
    }
    const placed = placements.slice(0, 5);
    const { rows } = await db.pool.query<{ bet_id: string; version: number }>(
      'SELECT bet_id, version FROM bets_view WHERE tenant_id = ANY($1) AND bet_id = ANY($2) ORDER BY bet_id',
      [placed.map((e) => e.tenantId), placed.map((e) => e.aggregateId)],
    );
    expect(rows).toEqual(
      placed
        .map((e) => ({ bet_id: e.aggregateId, version: 1 }))
        .sort((a, b) => (a.bet_id < b.bet_id ? -1 : 1)),
    );
  });
});
