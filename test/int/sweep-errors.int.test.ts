/**
 * What the sweep says when a pass fails: a transient error (the deadlock CI met between the sweep's
 * re-fold and a flush over the same followers' rows) is a warning — the next pass tries again —
 * and anything else is an error line, for a person.
 */
import { runSweep } from '../../consumers/sweep.js';
import type { Reconciler } from '../../projections/projection.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { recordingLogger } from '../support/recordingLogger.js';
import { waitFor } from '../support/oracle.js';

function failingReconciler(error: Error): Reconciler & { calls: number } {
  const reconciler = {
    calls: 0,
    laggingBets: () => {
      reconciler.calls++;
      return Promise.reject(error);
    },
    repairBets: () => Promise.reject(new Error('not reached')),
  };
  return reconciler as unknown as Reconciler & { calls: number };
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('the sweep meeting an error', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  async function passes(error: Error): Promise<Array<[string, string]>> {
    const { logger, lines } = recordingLogger();
    const reconciler = failingReconciler(error);
    const controller = new AbortController();
    const running = runSweep({
      pool: db.pool,
      config: { sweepIntervalMs: 20, sweepWindowMs: 60_000, sweepGraceMs: 0 },
      reconciler,
      logger,
      signal: controller.signal,
    });
    await waitFor('two sweep passes', () => reconciler.calls >= 2, 10_000, 10);
    controller.abort();
    await running;
    return lines;
  }

  it('a deadlock is a warning, and the next pass runs', async () => {
    const lines = await passes(withCode('deadlock detected', '40P01'));
    expect(lines.filter(([level]) => level === 'error')).toEqual([]);
    expect(lines).toContainEqual(['warn', 'sweep met a transient error; the next sweep tries again']);
  });

  it('an error no retry cures is an error line', async () => {
    const lines = await passes(withCode('relation "bets_view" does not exist', '42P01'));
    expect(lines).toContainEqual(['error', 'sweep failed']);
  });
});
