/**
 * One Kafka client draining a topic, in a process of its own (so its peak RSS is its own): the
 * consumer half of `projector bench --only clients`. Prints one JSON line.
 *   node dist/src/bench/consumeWith.js kafkajs|platformatic BROKERS TOPIC COUNT [members]
 * Every message's value is parsed as JSON, as the worker decodes it. With members = 2, the second
 * member joins the group once the first has read a tenth of the topic: the line also says how long
 * the joiner waited for its first message (the rebalance as a client lives it).
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { installCodecs } from '../kafka/codecs/index.js';

interface Member {
  start(onMessage: (value: Buffer | null) => void): Promise<void>;
  close(): Promise<void>;
}

function peakRssMb(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

function kafkajsMember(brokers: string, topic: string, group: string): Member {
  installCodecs();
  const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, maxBytesPerPartition: 262_144 });
  return {
    async start(onMessage) {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 6,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) onMessage(m.value);
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
    async start(onMessage) {
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      stream.on('data', (message: { value: Buffer | null | undefined }) => onMessage(message.value ?? null));
    },
    close: () => consumer.close(true),
  };
}

async function main(): Promise<void> {
  const [client, brokers, topic, countText, membersText] = process.argv.slice(2);
  if (!client || !brokers || !topic || !countText)
    throw new Error('usage: consumeWith CLIENT BROKERS TOPIC COUNT [members]');
  const count = Number(countText);
  const members = Number(membersText ?? '1');
  const group = `bench-${client}-${Date.now()}`;
  const make = () =>
    client === 'kafkajs'
      ? Promise.resolve(kafkajsMember(brokers, topic, group))
      : platformaticMember(brokers, topic, group);
  let seen = 0;
  let joinerFirstMs: number | null = null;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const first = await make();
  const all: Member[] = [first];
  let joining = false;
  const count1 = (value: Buffer | null) => {
    if (value) JSON.parse(value.toString('utf8'));
    seen++;
    if (members > 1 && !joining && seen >= count / 10) {
      joining = true;
      const joinedAt = performance.now();
      void make().then(async (second) => {
        all.push(second);
        await second.start((v) => {
          joinerFirstMs ??= Math.round(performance.now() - joinedAt);
          count1(v);
        });
      });
    }
    if (seen >= count) done();
  };
  await first.start(count1);
  await finished;
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    `${JSON.stringify({
      client,
      eventsPerSecond: Math.round((count / ms) * 1000),
      cpuSeconds: Math.round((used.user + used.system) / 1e4) / 100,
      peakRssMb: peakRssMb(),
      joinerFirstMs,
    })}\n`,
  );
  await Promise.all(all.map((m) => m.close().catch(() => undefined)));
  process.exit(0);
}

void main().catch((error: unknown) => {
  process.stderr.write(`consumeWith: ${(error as Error).message}\n`);
  process.exit(1);
});
