/**
 * The main job end to end on the local stack: migrate, append a realistic stream through the real
 * append path (published to Kafka), run a worker until it has caught up, and compare the view with
 * a fold computed by SQL straight from bet_events.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker } from '../../consumers/worker.js';
import { isCaughtUp } from '../../consumers/lag.js';
import { betsProjection } from '../../projections/registry.js';
import { betsBehind, statusCounts } from '../../projections/bets/verify.js';
import { exposureMismatches, exposureTotals } from '../../projections/exposure/index.js';
import { maskUrl } from '../../src/config.js';
import { ensureDatabase } from '../../src/db/ensureDatabase.js';
import { migrate } from '../../src/db/migrate.js';
import { ensureTopic } from '../../src/kafka/topics.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { runSimulation } from '../../src/simulate/run.js';
import { intOption, type Command } from '../command.js';
import { createRuntime } from '../runtime.js';
import { table } from '../table.js';
import { SIMULATION_HELP, SIMULATION_OPTIONS, simulationFlags } from './simulate.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'append a stream, project it with a worker, print the result',
  usage: `projector demo [options]

Creates the database of DATABASE_URL if missing, migrates it, creates a fresh topic, appends a
simulated stream (published to Kafka), runs one worker until it has caught up, then prints the
per-status counts of bets_view next to a fold computed by SQL from bet_events, and the throughput.
Exits 1 if they differ.

${SIMULATION_HELP.replace('(default 10000)', '(default 100000)')}
  --partitions N       partitions of the demo topic (default 6)`,
  options: { ...SIMULATION_OPTIONS, partitions: { type: 'string' } },
  async run(values) {
    const flags = simulationFlags({ events: '100000', ...values });
    const partitions = intOption(values, 'partitions', 6, 1, 1_000);
    const topic = `bet-events-demo-${Date.now()}`;
    const overrides = { KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `${topic}-projector` };
    const runtime = createRuntime('demo', overrides);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    try {
      await ensureDatabase(runtime.config);
      await runtime.checkConnections({ kafka: true });
      await migrate(runtime.pool);
      await ensureTopic(runtime.kafka, topic, partitions);
      out(`database ${maskUrl(runtime.config.databaseUrl)}, topic ${topic} (${partitions} partitions)`);

      out(`appending ${flags.events} events for ${flags.tenants} tenants...`);
      // A cut through a live stream: bets still open at the end, so user_exposure has something to sum.
      const appended = await runSimulation(runtime.eventStore(), { ...flags, settleAtEnd: false });
      out(
        `appended ${appended.appended} events in ${(appended.elapsedMs / 1000).toFixed(2)} s ` +
          `(${Math.round((appended.appended / appended.elapsedMs) * 1000)} events/s), ` +
          `${appended.duplicates} duplicate retries recognised`,
      );

      const controller = new AbortController();
      const worker = createWorker({
        config: runtime.config,
        pool: runtime.pool,
        kafka: runtime.kafka,
        projection: betsProjection,
        logger: runtime.logger,
        metrics: createMetrics({ defaultMetrics: false }),
      });
      const started = performance.now();
      const running = worker.run(controller.signal);
      running.catch(() => undefined);
      while (!(await isCaughtUp(runtime.pool, runtime.kafka, betsProjection.name, topic))) {
        if (worker.state === 'failed') await running;
        await sleep(100);
      }
      const seconds = (performance.now() - started) / 1000;
      controller.abort();
      await running;

      const stats = worker.stats;
      out(
        `projected ${stats.consumed} events in ${seconds.toFixed(2)} s with one worker ` +
          `(${Math.round(stats.consumed / seconds)} events/s end to end, including group join); ` +
          `${stats.flushes} flushes, ${stats.staleEvents} stale, ${stats.deadLettered} dead letters`,
      );
      const view = await statusCounts(runtime.pool, 'view');
      const fold = await statusCounts(runtime.pool, 'events');
      const statuses = [...new Set([...view.keys(), ...fold.keys()])].sort();
      const rows: Array<[string, ...Array<string | number>]> = [
        ['status', 'bets_view', 'fold(bet_events)', ''],
      ];
      for (const s of statuses) {
        const v = view.get(s) ?? 0;
        const f = fold.get(s) ?? 0;
        rows.push([s, v, f, v === f ? 'ok' : 'MISMATCH']);
      }
      const behind = await betsBehind(runtime.pool);
      out(table(rows));
      out(`bets whose view row is not at their latest version: ${behind}`);
      // user_exposure, next to its check: the sum over open bets, computed by the database from bets_view.
      const totals = await exposureTotals(runtime.pool);
      const mismatched = (await exposureMismatches(runtime.pool)).length;
      out(
        table([
          ['user_exposure', 'stored (all users)', 'sum over open bets in bets_view', ''],
          [
            'open bets',
            totals.openBets,
            totals.expectedOpenBets,
            totals.openBets === totals.expectedOpenBets ? 'ok' : 'MISMATCH',
          ],
          ['open stake', totals.openStake, totals.expectedOpenStake, totals.equal ? 'ok' : 'MISMATCH'],
        ]),
      );
      out(`user_exposure rows that differ from the sum over their user's open bets: ${mismatched}`);
      return behind === 0 &&
        mismatched === 0 &&
        totals.equal &&
        statuses.every((s) => view.get(s) === fold.get(s))
        ? 0
        : 1;
    } finally {
      await runtime.close();
    }
  },
};
