import { spawn } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { toEnvelopeJson } from '../../src/events/types.js';
import { simulateEvents } from '../../src/simulate/generator.js';
import { createTestDatabase, requiredEnv, type TestDatabase } from '../support/db.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/oracle.js';
import { CLI, runProjector } from '../support/processes.js';

const projector = runProjector;

const oneLine = (text: string) => text.trim().split('\n');

describe('projector CLI', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'projector-cli-'));
    env = {
      DATABASE_URL: db.workerUrl,
      KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
      PUBLISH_EVENTS: 'false',
    };
  });
  afterAll(async () => db.drop());

  const eventCount = async () =>
    (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM bet_events')).rows[0]!.n;

  it('--version prints the package version', async () => {
    const run = await projector(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^bet-projector \d+\.\d+\.\d+ \(node v\d+/);
  });

  it('lag: --no-kafka never connects to Kafka; a missing topic is named after the database part', async () => {
    const noKafka = await projector(['lag', '--no-kafka'], { ...env, KAFKA_BROKERS: '127.0.0.1:1' });
    expect(noKafka.code).toBe(0);
    expect(noKafka.stdout).toContain('view: 0 lagging bets');
    const topic = uniqueName('nowhere');
    const missing = await projector(['lag'], { ...env, KAFKA_TOPIC: topic });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('view: 0 lagging bets');
    expect(missing.stdout).toContain(`kafka: topic ${topic} does not exist`);
    expect(missing.stderr).toBe('');
  });

  it('prints help for every command and exits 0', async () => {
    const overview = await projector(['--help']);
    expect(overview.code).toBe(0);
    for (const command of ['migrate', 'worker', 'append', 'simulate', 'demo']) {
      expect(overview.stdout).toContain(command);
      const help = await projector([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`projector ${command}`);
    }
  });

  it.each([
    [[], 'usage: projector <command>'],
    [['bogus'], 'projector: unknown command "bogus"'],
    [['worker', '--bogus'], "projector worker: Unknown option '--bogus'"],
    [['migrate', 'extra'], 'projector migrate: Unexpected argument'],
    [['simulate', '--events', 'abc'], 'projector simulate: --events "abc" is not a whole number'],
    [['simulate', '--events', '0'], 'projector simulate: --events 0 is out of range'],
    [
      ['simulate', '--duplicate-rate', '2'],
      'projector simulate: --duplicate-rate "2" is not a fraction between 0 and 1',
    ],
    [['simulate', '--rate'], "projector simulate: Option '--rate <value>' argument missing"],
    [['append', '--batch-size', '-5'], 'projector append: --batch-size "-5" is not a whole number'],
    [
      ['append', '--file', '/nonexistent/events.jsonl'],
      'projector append: --file "/nonexistent/events.jsonl"',
    ],
    [['demo', '--partitions', 'many'], 'projector demo: --partitions "many" is not a whole number'],
  ])('refuses %j with exit 2 and one line', async (args, message) => {
    const before = await eventCount();
    const run = await projector(args, env);
    expect(run.code).toBe(2);
    const out = args.length === 0 ? run.stdout : run.stderr;
    expect(out).toContain(message);
    if (args.length > 0) expect(oneLine(run.stderr)).toHaveLength(1);
    expect(await eventCount()).toBe(before);
  });

  it.each([
    ['FLUSH_MAX_EVENTS', 'abc', 'FLUSH_MAX_EVENTS "abc" is not a whole number'],
    ['KAFKA_BROKERS', 'nohost', 'KAFKA_BROKERS entry "nohost" is not host:port'],
    [
      'DATABASE_URL',
      'postgres://app:hunter2@db:port/x',
      'DATABASE_URL "postgres://app:***@db:port/x" is not a URL',
    ],
  ])('refuses config %s=%s with exit 2, naming it and hiding secrets', async (name, value, message) => {
    const run = await projector(['worker'], { ...env, [name]: value });
    expect(run.code).toBe(2);
    expect(oneLine(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toContain('hunter2');
  });

  it('validates every line before appending any, then appends and reports duplicates', async () => {
    const events = [...simulateEvents({ seed: 99, events: 50, tenants: 2, now: () => 1_790_000_000_000 })];
    const lines = events.map((e) => JSON.stringify(toEnvelopeJson(e)));
    const bad = JSON.parse(lines[1]!) as Record<string, unknown>;
    const broken = [...lines];
    broken[1] = JSON.stringify({
      ...bad,
      event_type: 'V1_BET_PLACED',
      version: 1,
      event_data: { amount: '12,5' },
    });
    const before = await eventCount();
    const refused = await projector(['append'], env, broken.join('\n'));
    expect(refused.code).toBe(2);
    expect(oneLine(refused.stderr)).toEqual([
      expect.stringContaining('line 2: event_data.amount "12,5" is not a decimal'),
    ]);
    // A NUL in a text field: named by line and field, not by PostgreSQL's encoding error.
    const nul = [...lines];
    nul[2] = JSON.stringify({ ...(JSON.parse(lines[2]!) as object), aggregate_id: 'bet-\u0000-x' });
    const refusedNul = await projector(['append'], env, nul.join('\n'));
    expect(refusedNul.code).toBe(2);
    expect(oneLine(refusedNul.stderr)).toEqual([
      expect.stringContaining('line 3: aggregate_id "bet-\\u0000-x" contains U+0000'),
    ]);
    expect(await eventCount()).toBe(before);

    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const ok = await projector(['append', '--file', file, '--batch-size', '7', '--immediate'], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ appended: 50, duplicates: 0 });
    const again = await projector(['append', '--file', file], env);
    expect(JSON.parse(again.stdout)).toEqual({ appended: 0, duplicates: 50 });
    expect(await eventCount()).toBe(before + 50);
  });

  it('worker: SIGTERM finishes, leaves the group and exits 0', async () => {
    const kafka: Kafka = testKafka();
    const topic = await createTopic(kafka, 'cli-worker', 2);
    const child = spawn(process.execPath, [CLI, 'worker'], {
      env: {
        ...env,
        PATH: process.env['PATH'] ?? '',
        LOG_LEVEL: 'info',
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: uniqueName('g'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor('the worker to join its group', () => logs.includes('joined group'), 30_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toContain('"msg":"stopped"');
    expect(logs).not.toContain(requiredEnv('TEST_WORKER_PASSWORD'));
  });
});
