import type { Kafka } from 'kafkajs';
import { checkpointLag } from '../../consumers/lag.js';
import { betsProjection, FOLLOWER_NAMES, reconciler, summarizeLag } from '../../projections/registry.js';
import type { Config } from '../../src/config.js';
import type { Queryable } from '../../src/db/pool.js';
import { intOption, stringOption, tenantsOption, tenantScope, type Command } from '../command.js';
import { parseSince } from '../duration.js';
import { openRuntime } from '../runtime.js';
import { table } from '../table.js';

/** The Kafka part of the report, or `missing` when the topic does not exist (nothing to measure). */
async function kafkaPartitions(db: Queryable, kafka: Kafka, config: Config) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(config.topic)) return 'missing' as const;
    const [committed] = await admin.fetchOffsets({ groupId: config.groupId, topics: [config.topic] });
    const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const now = Date.now();
    return (await checkpointLag(db, kafka, betsProjection.name, config.topic)).map((p) => {
      const offset = byPartition.get(p.partition) ?? -1;
      return {
        partition: p.partition,
        endOffset: p.endOffset,
        committedOffset: offset,
        consumerLag: offset < 0 ? p.endOffset : Math.max(0, p.endOffset - offset),
        checkpoint: p.checkpoint,
        checkpointLag: p.lag,
        checkpointAgeMs: p.checkpointedAt ? now - p.checkpointedAt.getTime() : null,
        lastEventAgeMs: p.lastEventTimestamp === null ? null : now - p.lastEventTimestamp,
      };
    });
  } finally {
    await admin.disconnect();
  }
}

export const lagCommand: Command = {
  name: 'lag',
  traced: true,
  summary: `how far bets_view is behind bet_events and Kafka; whether ${FOLLOWER_NAMES} match bets_view`,
  usage: `projector lag [--since 24h|ISO|all] [--tenant N…] [--json] [--fail-over N] [--no-kafka]

Bets whose latest stored version is above their view row's (count, max and p99 lag in ms, top
tenants); rows of ${FOLLOWER_NAMES} that differ from what bets_view says they must hold
(--tenant's, or all tenants, whatever --since says; \`projector repair\` sets them); plus per Kafka partition:
consumer-group lag and DB checkpoint lag and age.

  --since S       only events since S: a duration (15m, 24h, 7d), an ISO time, or all (default 24h)
  --tenant N      only this tenant; repeat it (or N,M) for several
  --json          machine-readable output
  --fail-over N   exit 1 when more than N bets lag or any follower row differs (for a CronJob)
  --no-kafka      skip the Kafka part (and do not connect to Kafka)

Exits 1 when the topic does not exist (after printing the database part).`,
  options: {
    since: { type: 'string' },
    tenant: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    'fail-over': { type: 'string' },
    'no-kafka': { type: 'boolean' },
  },
  async run(values) {
    const sinceMs = parseSince('since', stringOption(values, 'since') ?? '24h');
    const tenants = tenantsOption(values);
    const failOver =
      values['fail-over'] === undefined
        ? undefined
        : intOption(values, 'fail-over', 0, 0, Number.MAX_SAFE_INTEGER);
    const noKafka = values['no-kafka'] === true;
    const runtime = await openRuntime('lag', { kafka: !noKafka });
    try {
      const summary = summarizeLag(
        await reconciler.laggingBets(runtime.pool, {
          ...(sinceMs !== undefined ? { sinceMs } : {}),
          ...tenantScope(tenants),
        }),
      );
      const followers = await reconciler.checkFollowers(runtime.pool, tenantScope(tenants));
      const differing = Object.values(followers).reduce((n, c) => n + c.differing, 0);
      const kafkaPart = noKafka ? [] : await kafkaPartitions(runtime.pool, runtime.kafka, runtime.config);
      const missingTopic = kafkaPart === 'missing';
      const partitions = missingTopic ? [] : kafkaPart;
      if (values['json']) {
        process.stdout.write(
          `${JSON.stringify({
            view: summary,
            followers,
            kafka: {
              topic: runtime.config.topic,
              groupId: runtime.config.groupId,
              ...(missingTopic ? { topicMissing: true } : {}),
              partitions,
            },
          })}\n`,
        );
      } else {
        const out: string[] = [
          `view: ${summary.laggingBets} lagging bets, max lag ${summary.maxLagMs} ms, p99 ${summary.p99LagMs} ms`,
        ];
        for (const [eventType, bets] of Object.entries(summary.held)) {
          out.push(
            `held: ${bets} bets at an event of type ${eventType}, which this version does not know ` +
              '(upgrade the workers, then projector repair)',
          );
        }
        if (summary.topTenants.length > 0) {
          out.push(
            table([
              ['tenant', 'lagging bets', 'max lag ms'],
              ...summary.topTenants.map((t) => [t.tenantId, t.laggingBets, t.maxLagMs]),
            ]),
          );
        }
        for (const [name, check] of Object.entries(followers)) {
          out.push(
            `${name}: ${check.differing} rows differ from what bets_view says they must hold` +
              (check.differing > 0 ? ' (projector repair sets them)' : ''),
          );
          const [first] = check.sample;
          if (first) {
            const columns = Object.keys(first);
            out.push(table([columns, ...check.sample.map((row) => columns.map((c) => row[c] ?? ''))]));
          }
        }
        if (missingTopic) {
          out.push(
            `kafka: topic ${runtime.config.topic} does not exist on ${runtime.config.kafkaBrokers.join(',')} ` +
              '(KAFKA_TOPIC; `projector migrate` creates it)',
          );
        }
        if (partitions.length > 0) {
          out.push(`kafka: topic ${runtime.config.topic}, group ${runtime.config.groupId}`);
          out.push(
            table([
              [
                'partition',
                'end',
                'committed',
                'consumer lag',
                'checkpoint',
                'checkpoint lag',
                'checkpoint age ms',
                'last event age ms',
              ],
              ...partitions.map((p) => [
                p.partition,
                p.endOffset,
                p.committedOffset,
                p.consumerLag,
                p.checkpoint,
                p.checkpointLag,
                p.checkpointAgeMs ?? '-',
                p.lastEventAgeMs ?? '-',
              ]),
            ]),
          );
        }
        process.stdout.write(`${out.join('\n')}\n`);
      }
      if (missingTopic) return 1;
      return failOver !== undefined && (summary.laggingBets > failOver || differing > 0) ? 1 : 0;
    } finally {
      await runtime.close();
    }
  },
};
