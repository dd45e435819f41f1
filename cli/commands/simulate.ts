import { runSimulation } from '../../src/simulate/run.js';
import { fractionOption, intOption, type Command, type Values } from '../command.js';
import { openRuntime } from '../runtime.js';
import { shutdownSignal } from '../shutdown.js';

export function simulationFlags(values: Values) {
  return {
    events: intOption(values, 'events', 10_000, 1, 100_000_000),
    rate: intOption(values, 'rate', 0, 0, 10_000_000),
    tenants: intOption(values, 'tenants', 20, 1, 1_000_000),
    batchSize: intOption(values, 'batch-size', 100, 1, 10_000),
    duplicateRate: fractionOption(values, 'duplicate-rate', 0.01),
    seed: intOption(values, 'seed', Date.now() % 2_147_483_647, 0, 2_147_483_647),
    openBets: intOption(values, 'open-bets', 1_000, 1, 10_000_000),
    v2Share: fractionOption(values, 'v2-share', 0.5),
    accumulatorShare: fractionOption(values, 'accumulator-share', 0.3),
  };
}

export const SIMULATION_OPTIONS = {
  events: { type: 'string' },
  rate: { type: 'string' },
  tenants: { type: 'string' },
  'batch-size': { type: 'string' },
  'duplicate-rate': { type: 'string' },
  seed: { type: 'string' },
  'open-bets': { type: 'string' },
  'v2-share': { type: 'string' },
  'accumulator-share': { type: 'string' },
} as const;

export const SIMULATION_HELP = `  --events N           events to append (default 10000)
  --rate N             events per second, 0 = as fast as possible (default 0)
  --tenants N          number of tenants, of uneven size (default 20)
  --batch-size N       events per append statement (default 100)
  --duplicate-rate F   fraction of batches retried, 0..1 (default 0.01)
  --seed N             random seed (default: from the clock)
  --open-bets N        bets in flight at once (default 1000)
  --v2-share F         fraction of bets placed and settled by V2 events, 0..1 (default 0.5)
  --accumulator-share F  fraction of V2 bets with 2 to 6 legs, 0..1 (default 0.3)`;

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'append a realistic multi-tenant stream through the real append path',
  usage: `projector simulate [options]

Bets are placed, then accepted or rejected, then settled (won/lost/void, partially won for
accumulators), cashed out or cancelled, interleaved across tenants; V1 and V2 events mixed;
appended in batches and published to Kafka like any producer.

${SIMULATION_HELP}`,
  options: SIMULATION_OPTIONS,
  async run(values) {
    const flags = simulationFlags(values);
    const runtime = await openRuntime('simulate');
    const signal = shutdownSignal(runtime.config.shutdownTimeoutMs, runtime.logger);
    try {
      const report = await runSimulation(runtime.eventStore(signal), {
        ...flags,
        signal,
        onUnpublished: (error) => runtime.logger.warn({ err: error }, 'batch stored but not published'),
      });
      const perSecond = Math.round((report.appended / report.elapsedMs) * 1000);
      process.stdout.write(
        `${JSON.stringify({ ...report, elapsedMs: Math.round(report.elapsedMs), eventsPerSecond: perSecond })}\n`,
      );
    } finally {
      await runtime.close();
    }
  },
};
