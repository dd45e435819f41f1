/**
 * Progress for long commands: a bar with done/total, rate and ETA on a terminal; one JSON line per
 * update when stderr is not a terminal (a Kubernetes Job log, a CI run). Always stderr: stdout
 * carries the command's result.
 */
export interface ProgressUpdate {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

function formatBar(update: ProgressUpdate, width = 30): string {
  const ratio = update.total > 0 ? Math.min(1, update.done / update.total) : 1;
  const filled = Math.round(ratio * width);
  const rate = update.elapsedMs > 0 ? (update.done / update.elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? Math.max(0, (update.total - update.done) / rate) : 0;
  return (
    `${update.phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
    `${update.done}/${update.total} ${(ratio * 100).toFixed(0)}% ${Math.round(rate)}/s ETA ${eta.toFixed(1)}s`
  );
}

export function progressReporter(
  // stderr: a command's result goes to stdout as JSON, and progress must not mix into it.
  stream: NodeJS.WriteStream = process.stderr,
): (update: ProgressUpdate) => void {
  if (!stream.isTTY) return (update) => stream.write(`${JSON.stringify({ progress: update })}\n`);
  return (update) => stream.write(`\r${formatBar(update)}${update.done >= update.total ? '\n' : ''}`);
}
