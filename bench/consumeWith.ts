/**
 * One Kafka client consuming a topic in a process of its own (so its peak RSS is its own): the
 * consumer half of `projector bench --only clients`. Prints one JSON line.
 *   node dist/bench/consumeWith.js drain|rebalance kafkajs|platformatic BROKERS TOPIC COUNT
 * Every message's value is parsed as JSON, as the worker decodes it; offsets are committed as each
 * client does by default (kafkajs after every batch, @platformatic/kafka's autocommit).
 * - drain: one member reads the topic as fast as it can.
 * - rebalance: members work at ~10,000 messages/s each (a paced handler, like a worker writing to
 *   a database); once the first has read a tenth, a second joins the group. Reported: how long the
 *   joiner waited for its first message, the first member's longest silence after the join (the
 *   group's stop-the-world), messages delivered twice (re-read after the partitions moved), and the
 *   time until every offset was seen.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { installCodecs } from '../src/kafka/codecs/index.js';

type OnMessages = (
  messages: ReadonlyArray<{ partition: number; offset: string; value: Buffer | null }>,
) => void;

interface Member {
  start(onMessages: OnMessages, paceMicros: number): Promise<void>;
  close(): Promise<void>;
}

/** Per-message work in rebalance mode: ~10,000 messages/s per member, whatever its concurrency. */
const PACE_MICROS = 100;

function peakRssMb(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

function kafkajsMember(brokers: string, topic: string, group: string): Member {
  installCodecs();
  const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, maxBytesPerPartition: 262_144 });
  // The member's one worker: batches of its partitions take turns at the paced work.
  let busy = Promise.resolve();
  return {
    async start(onMessages, paceMicros) {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 6,
        eachBatch: async ({ batch }) => {
          onMessages(
            batch.messages.map((m) => ({ partition: batch.partition, offset: m.offset, value: m.value })),
          );
          if (paceMicros > 0) {
            busy = busy.then(() => sleep((batch.messages.length * paceMicros) / 1000));
            await busy;
          }
        },
      });
    },
    close: () => consumer.disconnect(),
  };
}

async function platformaticMember(brokers: string, topic: string, group: string): Promise<Member> {
  // Loaded only here: it needs Node ≥ 22.22.
  const { Consumer } = await import('@platformatic/kafka');
  const consumer = new Consumer({
    groupId: group,
    clientId: 'bench',
    bootstrapBrokers: brokers.split(','),
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  return {
    async start(onMessages, paceMicros) {
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: true,
      });
      let pending = 0;
      stream.on('data', (m: { partition: number; offset: bigint; value: Buffer | null | undefined }) => {
        onMessages([{ partition: m.partition, offset: String(m.offset), value: m.value ?? null }]);
        if (paceMicros > 0 && ++pending === 100) {
          pending = 0;
          stream.pause();
          setTimeout(() => stream.resume(), (100 * paceMicros) / 1000);
        }
      });
    },
    close: () => consumer.close(true),
  };
}

async function main(): Promise<void> {
  const [mode, client, brokers, topic, countText] = process.argv.slice(2);
  if ((mode !== 'drain' && mode !== 'rebalance') || !client || !brokers || !topic || !countText)
    throw new Error('usage: consumeWith drain|rebalance CLIENT BROKERS TOPIC COUNT');
  const count = Number(countText);
  const group = `bench-${client}-${Date.now()}`;
  const make = async () =>
    client === 'kafkajs' ? kafkajsMember(brokers, topic, group) : platformaticMember(brokers, topic, group);
  const pace = mode === 'rebalance' ? PACE_MICROS : 0;
  const seen = new Set<string>();
  let delivered = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const members: Member[] = [];
  let joinedAt: number | null = null;
  let joinerFirstMs: number | null = null;
  let firstLast = 0;
  let firstLongestSilenceMs = 0;
  const record = (messages: Parameters<OnMessages>[0]) => {
    for (const m of messages) {
      if (m.value) JSON.parse(m.value.toString('utf8'));
      delivered++;
      seen.add(`${m.partition}:${m.offset}`);
    }
    if (seen.size >= count) done();
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  const first = await make();
  members.push(first);
  await first.start((messages) => {
    const now = performance.now();
    if (joinedAt !== null && firstLast > 0)
      firstLongestSilenceMs = Math.max(firstLongestSilenceMs, now - firstLast);
    firstLast = now;
    record(messages);
    if (mode === 'rebalance' && joinedAt === null && seen.size >= count / 10) {
      joinedAt = now;
      void make().then(async (second) => {
        members.push(second);
        await second.start((more) => {
          joinerFirstMs ??= Math.round(performance.now() - joinedAt!);
          record(more);
        }, pace);
      });
    }
  }, pace);
  await finished;
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    `${JSON.stringify({
      client,
      mode,
      eventsPerSecond: Math.round((count / ms) * 1000),
      seconds: Math.round(ms / 100) / 10,
      cpuSeconds: Math.round((used.user + used.system) / 1e4) / 100,
      peakRssMb: peakRssMb(),
      duplicates: delivered - seen.size,
      joinerFirstMs,
      firstLongestSilenceMs: Math.round(firstLongestSilenceMs),
    })}\n`,
  );
  await Promise.all(members.map((m) => m.close().catch(() => undefined)));
  process.exit(0);
}

void main().catch((error: unknown) => {
  process.stderr.write(`consumeWith: ${(error as Error).message}\n`);
  process.exit(1);
});
