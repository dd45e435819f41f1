/** What the probes say about a worker: pure functions of its state, plus one database ping. */
import type { Pool } from '../src/db/pool.js';
import type { ProbeResult } from '../src/observability/httpServer.js';
import type { Worker } from './worker.js';

/**
 * Alive while the consume loop shows signs of life (fetches, heartbeats, flushes, retries) within
 * the timeout. A worker catching up is fetching; one retrying an outage is retrying; one shutting
 * down is finishing its flush: none of them is killed. Only a failed or silent loop is.
 */
export function liveness(
  worker: Pick<Worker, 'state' | 'stats'>,
  timeoutMs: number,
  now = Date.now(),
): ProbeResult {
  const silentMs = now - worker.stats.lastActivityAt;
  const ok = worker.state !== 'failed' && (worker.state !== 'running' || silentMs < timeoutMs);
  return { ok, detail: { state: worker.state, silentMs, flushes: worker.stats.flushes } };
}

/** Ready when the database answers and the consumer has joined its group (and is not rebalancing). */
export async function readiness(worker: Pick<Worker, 'state' | 'stats'>, pool: Pool): Promise<ProbeResult> {
  let database = false;
  try {
    await pool.query('SELECT 1');
    database = true;
  } catch {
    database = false;
  }
  const group = worker.state === 'running' && worker.stats.joinedGroup && !worker.stats.rebalancing;
  return { ok: database && group, detail: { database, group, state: worker.state } };
}
