/**
 * Node prints process warnings to stderr as plain text. The CLI takes that over, for two reasons:
 * a worker's output is JSON lines (one parser for every line it writes), and kafkajs 2.2.4 causes a
 * warning on every connection under Node ≥ 23 — its request queue schedules
 * `setTimeout(check, throttledUntil - Date.now())` with `throttledUntil = -1`, a negative delay that
 * Node has always run as 1 ms and now also reports (TimeoutNegativeWarning). That one is dropped;
 * every other warning is written to stderr as one JSON line.
 */
export function routeProcessWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    const line = {
      level: 'warn',
      time: new Date().toISOString(),
      service: 'bet-projector',
      warning: warning.name,
      msg: warning.message,
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  });
}
