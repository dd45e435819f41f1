/**
 * The Java Kafka client (scripts/kafka/JavaClient.java) as a producer and consumer that is not
 * kafkajs: batches written with each codec the way Java services, Kafka Connect and Debezium write
 * them, and a reader of what the projector publishes.
 */
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaCompression } from '../../src/config.js';
import { requiredEnv } from './db.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE = path.join(ROOT, 'scripts/kafka/JavaClient.java');

export interface JavaRecord {
  readonly key: string | null;
  readonly value: Buffer | string | null;
}

let classpath: string | undefined;
function javaClasspath(): string {
  // The broker's own jars: kafka-clients with lz4-java, snappy-java and zstd-jni.
  classpath ??= `${execFileSync('bash', [path.join(ROOT, 'scripts/stack.sh'), 'classpath'], { encoding: 'utf8' }).trim()}/*`;
  return classpath;
}

function run(args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'java',
      ['-Dlog4j.configuration=file:/dev/null', '-cp', javaClasspath(), SOURCE, ...args],
      { maxBuffer: 512 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`JavaClient ${args[0]} failed: ${stderr.slice(-2_000)}`, { cause: error }));
        else resolve(stdout);
      },
    );
    child.stdin!.end(input);
  });
}

const b64 = (v: Buffer | string | null) => (v === null ? '' : Buffer.from(v).toString('base64'));

/** Produces the records with the Java client and `codec`, in batches of up to 256 kB. */
export async function javaProduce(
  topic: string,
  codec: KafkaCompression,
  records: readonly JavaRecord[],
): Promise<void> {
  const lines = records.map((r) => `${b64(r.key)}\t${b64(r.value)}`).join('\n');
  await run(['produce', requiredEnv('KAFKA_BROKERS'), topic, codec], `${lines}\n`);
}

/** Reads `count` records from the beginning of every partition with the Java client. */
export async function javaConsume(
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<Array<{ partition: number; offset: number; key: string | null; value: string | null }>> {
  const out = await run(
    ['consume', requiredEnv('KAFKA_BROKERS'), topic, String(count), String(timeoutMs)],
    '',
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const [partition, offset, key, value] = line.split('\t') as [string, string, string, string];
      const text = (s: string) => (s === '' ? null : Buffer.from(s, 'base64').toString('utf8'));
      return { partition: Number(partition), offset: Number(offset), key: text(key), value: text(value) };
    });
}
