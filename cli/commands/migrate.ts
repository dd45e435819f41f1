import { migrate } from '../../src/db/migrate.js';
import { ensureTopic } from '../../src/kafka/topics.js';
import type { Command } from '../command.js';
import { openRuntime } from '../runtime.js';

export const migrateCommand: Command = {
  name: 'migrate',
  traced: true,
  summary: 'apply database migrations and create the Kafka topic',
  usage: `projector migrate [--skip-topic]

Applies migrations/NNN_*.sql in order (recorded in schema_migrations; safe to run twice or from
two processes at once), then creates KAFKA_TOPIC with KAFKA_TOPIC_PARTITIONS partitions if missing.

  --skip-topic   only migrate the database`,
  options: { 'skip-topic': { type: 'boolean' } },
  async run(values) {
    const runtime = await openRuntime('migrate', { kafka: !values['skip-topic'] });
    try {
      const result = await migrate(runtime.pool);
      runtime.logger.info(
        { applied: result.applied, alreadyApplied: result.alreadyApplied },
        'migrations done',
      );
      if (!values['skip-topic']) {
        await ensureTopic(runtime.kafka, runtime.config.topic, runtime.config.topicPartitions);
      }
      process.stdout.write(
        `${result.applied.length} migration(s) applied, ${result.alreadyApplied} already applied` +
          `${values['skip-topic'] ? '' : `; topic ${runtime.config.topic} ready`}\n`,
      );
    } finally {
      await runtime.close();
    }
  },
};
