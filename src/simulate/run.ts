/** Drives the simulated stream through the real append path, at a given rate, with retried batches. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BetEvent } from '../events/types.js';
import { PublishError, type AppendResult, type EventStore } from '../store/eventStore.js';
import { seededRandom, simulateEvents, type SimulationOptions } from './generator.js';

export interface SimulationRun extends SimulationOptions {
  readonly batchSize: number;
  /** Events per second; 0 means as fast as the store takes them. */
  readonly rate: number;
  /**
   * Appenders at once (default 1), as several API servers would be: each takes the events of its
   * share of the tenants, so a bet's events stay in order, in batches of `batchSize`. The stream is
   * paced as it is made; a producer whose append is still running when its next batch is full
   * holds the stream until it is done.
   */
  readonly producers?: number;
  /** Fraction of batches sent a second time, as a producer retrying after a lost acknowledgement. */
  readonly duplicateRate: number;
  readonly signal?: AbortSignal;
  readonly onBatch?: (progress: SimulationReport) => void;
  /** A batch was stored but not published (a broker outage beyond the producer's retries). */
  readonly onUnpublished?: (error: PublishError) => void;
}

export interface SimulationReport {
  appended: number;
  /** Stored but not published: the worker's reconciliation sweep projects them. */
  unpublished: number;
  duplicates: number;
  batches: number;
  elapsedMs: number;
}

export async function runSimulation(store: EventStore, run: SimulationRun): Promise<SimulationReport> {
  const retryRandom = seededRandom(run.seed ^ 0x5eed);
  const report: SimulationReport = { appended: 0, unpublished: 0, duplicates: 0, batches: 0, elapsedMs: 0 };

  // A producer goes on when the broker is away: the events are stored (acknowledged), and what
  // was not published is the sweep's to project. A database error still stops the run.
  const append = async (events: BetEvent[]): Promise<AppendResult> => {
    try {
      return await store.append(events);
    } catch (error) {
      if (!(error instanceof PublishError)) throw error;
      report.unpublished += error.result.appended.length;
      run.onUnpublished?.(error);
      return error.result;
    }
  };
  const started = performance.now();
  const producers = Math.max(1, run.producers ?? 1);
  const batches: BetEvent[][] = Array.from({ length: producers }, () => []);
  const appending: Array<Promise<void>> = Array.from({ length: producers }, () => Promise.resolve());
  let made = 0;
  /** A producer's append that failed on the database: the run stops at the next batch. */
  let failed: { error: unknown } | undefined;

  const send = async (events: BetEvent[]) => {
    const result = await append(events);
    report.appended += result.appended.length;
    report.duplicates += result.duplicates.length;
    report.batches++;
    if (retryRandom() < run.duplicateRate) {
      const retry = await append(events);
      report.duplicates += retry.duplicates.length;
      report.batches++;
    }
    report.elapsedMs = performance.now() - started;
    run.onBatch?.(report);
  };

  /** The producer's batch goes out once its previous append is done; then the stream's pace. */
  const hand = async (producer: number) => {
    const events = batches[producer]!;
    batches[producer] = [];
    await appending[producer];
    const sent = send(events);
    sent.catch((error: unknown) => (failed ??= { error }));
    appending[producer] = sent;
    made += events.length;
    if (producers === 1) await sent;
    if (run.rate > 0) {
      const ahead = (made / run.rate) * 1000 - (performance.now() - started);
      if (ahead > 1)
        await sleep(ahead, undefined, run.signal ? { signal: run.signal } : {}).catch(() => undefined);
    }
  };

  try {
    for (const event of simulateEvents(run)) {
      if (run.signal?.aborted || failed) break;
      const producer = event.tenantId % producers;
      batches[producer]!.push(event);
      if (batches[producer]!.length >= run.batchSize) await hand(producer);
    }
    for (let producer = 0; producer < producers; producer++)
      if (batches[producer]!.length > 0 && !run.signal?.aborted && !failed) await hand(producer);
  } finally {
    // No append is left running behind the caller, whether the run ended or failed.
    await Promise.allSettled(appending);
  }
  if (failed) throw failed.error;
  report.elapsedMs = performance.now() - started;
  return report;
}
