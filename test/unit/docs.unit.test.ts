/**
 * The docs against the code: docs/configuration.md's worker table names exactly the variables
 * loadConfig reads, docs/operations.md has a runbook entry for every alert the chart installs and
 * names every metric, relative links resolve, the README stays short and keeps the line CI runs,
 * and measured figures live only in docs/benchmarks.md. The commands in the docs are run by
 * test/int/docs-commands.int.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';
import { METRIC } from '../../src/observability/metrics.js';
import { DOCS, ROOT } from '../support/docs.js';

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** The text outside fenced code blocks (fenced lines blanked, so line numbers hold). */
function prose(text: string): string {
  let fenced = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

/** From the line `heading` up to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const start = text.split('\n').indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}" heading`);
  const level = /^#+/.exec(heading)![0].length;
  const lines = text.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => {
    const m = /^(#+)\s/.exec(l);
    return m !== null && m[1]!.length <= level;
  });
  return lines.slice(0, end < 0 ? undefined : end).join('\n');
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

describe('docs/configuration.md', () => {
  /** Variable names of the worker table's first column; `NAME` / `_FILE` rows also have NAME_FILE. */
  function documented(): { names: string[]; fileForms: string[] } {
    const table = section(prose(read('docs/configuration.md')), '## Worker and CLI');
    const names: string[] = [];
    const fileForms: string[] = [];
    for (const line of table.split('\n').filter((l) => l.startsWith('| `'))) {
      const cell = line.split('|')[1] ?? '';
      const inCell = [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
      names.push(...inCell);
      if (cell.includes('`_FILE`')) fileForms.push(...inCell);
    }
    return { names: sorted(names), fileForms: sorted(fileForms) };
  }

  const CERT = '-----BEGIN CERTIFICATE-----\nnot-checked-here\n-----END CERTIFICATE-----';
  const KEY = '-----BEGIN PRIVATE KEY-----\nnot-checked-here\n-----END PRIVATE KEY-----';
  /** Environments that between them take loadConfig down every branch that reads a variable. */
  const RUNS: Array<Record<string, string>> = [
    {},
    { KAFKA_SSL: 'true' },
    { KAFKA_SSL_CA: CERT, KAFKA_SSL_CERT: CERT, KAFKA_SSL_KEY: KEY, KAFKA_SSL_KEY_PASSWORD: 'pw' },
    { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'user', KAFKA_SASL_PASSWORD: 'pw' },
    { KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
    {
      DATABASE_SSL_MODE: 'verify-full',
      DATABASE_SSL_CA: CERT,
      DATABASE_SSL_CERT: CERT,
      DATABASE_SSL_KEY: KEY,
      DATABASE_PASSWORD: 'pw',
    },
    { DATABASE_URL: 'postgres://user@db.example:5432/bets?sslmode=require' },
    {
      FLUSH_MAX_EVENTS: '200',
      FLUSH_BACKLOG_MAX_EVENTS: '2000',
      FLUSH_INTERVAL_MS: '50',
      FLUSH_LINGER_MS: '10',
      RETRY_INITIAL_MS: '10',
      RETRY_MAX_MS: '100',
      PROJECTION_NAME: 'bets_view',
      PUSHGATEWAY_URL: 'http://gateway:9091',
      LOG_LEVEL: 'debug',
      PUBLISH_EVENTS: 'false',
    },
    {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'projector',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    },
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
  ];

  /** Every property loadConfig reads from its env, over all RUNS (each must load cleanly). */
  function variablesRead(): string[] {
    const seen = new Set<string>();
    for (const values of RUNS) {
      const env = new Proxy(values, {
        get(target, property, receiver) {
          if (typeof property === 'string') seen.add(property);
          return Reflect.get(target, property, receiver) as unknown;
        },
        has(target, property) {
          if (typeof property === 'string') seen.add(property);
          return Reflect.has(target, property);
        },
      });
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) throw new Error(`${JSON.stringify(values)}: ${error.message}`);
        throw error;
      }
    }
    return sorted(seen);
  }

  it('the worker table names exactly the variables loadConfig reads', () => {
    const reads = variablesRead();
    const fileForms = reads.filter((n) => n.endsWith('_FILE') && reads.includes(n.slice(0, -'_FILE'.length)));
    const plain = reads.filter((n) => !fileForms.includes(n));
    const docs = documented();
    // A variable the code reads but the table lacks, or a row for one it no longer reads.
    expect(docs.names).toEqual(plain);
    // NAME_FILE is documented as `NAME` / `_FILE`, on exactly the variables that have it.
    expect(docs.fileForms).toEqual(sorted(fileForms.map((n) => n.slice(0, -'_FILE'.length))));
    expect(plain.length).toBeGreaterThan(30);
  });

  it('keeps the local stack in a table of its own', () => {
    const stack = section(read('docs/configuration.md'), '## Local stack');
    for (const name of [
      'KAFKA_PORT',
      'EMBEDDED_PG',
      'EMBEDDED_PG_DIR',
      'CITUS_PORT',
      'BET_PROJECTOR_CACHE',
    ]) {
      expect(stack).toContain(`| \`${name}\` |`);
    }
    expect(documented().names).not.toContain('EMBEDDED_PG');
  });
});

describe('docs/operations.md', () => {
  const operations = read('docs/operations.md');

  it('has a runbook entry for every alert of the PrometheusRule', () => {
    const rules = read('helm/bet-projector/templates/prometheusrule.yaml');
    const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThan(0);
    for (const alert of alerts) {
      const heading = operations.split('\n').find((l) => new RegExp(`^#+\\s+\`?${alert}\`?\\s*$`).test(l));
      const row = operations.split('\n').some((l) => l.startsWith(`| \`${alert}\` |`));
      expect({ alert, documented: heading !== undefined || row }).toEqual({ alert, documented: true });
      if (heading) {
        const entry = section(operations, heading);
        for (const part of ['**Means:**', '**Confirm:**', '**Do:**']) {
          expect({ alert, part, present: entry.includes(part) }).toEqual({ alert, part, present: true });
        }
      }
    }
  });

  it('names every metric the worker exports', () => {
    for (const metric of Object.values(METRIC)) expect(operations).toContain(`\`${metric}\``);
  });
});

describe('links', () => {
  /** GitHub's anchors for a file's headings. */
  function anchors(file: string): Set<string> {
    const seen = new Map<string, number>();
    const result = new Set<string>();
    for (const line of prose(read(file)).split('\n')) {
      const m = /^#{1,6}\s+(.*?)\s*$/.exec(line);
      if (!m) continue;
      const slug = m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      result.add(n === 0 ? slug : `${slug}-${n}`);
    }
    return result;
  }

  it.each(DOCS)('every relative link in %s resolves, anchors included', (file) => {
    const text = prose(read(file)).replace(/`[^`\n]*`/g, '');
    const broken: string[] = [];
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue;
      const [pathPart = '', anchor] = target.split('#');
      const resolved = pathPart === '' ? file : path.join(path.dirname(file), pathPart);
      if (!existsSync(path.join(ROOT, resolved))) broken.push(`${target} (no ${resolved})`);
      else if (anchor !== undefined && !anchors(resolved).has(anchor))
        broken.push(`${target} (no #${anchor})`);
    }
    expect(broken).toEqual([]);
  });
});

describe('README.md', () => {
  const readme = read('README.md');

  it('is at most 200 lines', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(200);
  });

  it('keeps the two commands, the second in the form .ci/run reads', () => {
    const lines = readme.split('\n');
    expect(lines.some((l) => /^npm ci && npm run demo\s+#/.test(l))).toBe(true);
    // .ci/run: sed -n 's/^\(npm ci && npm run stack:up && npm test\) .*/\1/p' README.md
    expect(lines.filter((l) => /^npm ci && npm run stack:up && npm test .*/.test(l))).toHaveLength(1);
  });

  it('links every page of docs/', () => {
    for (const file of DOCS.filter((f) => f !== 'README.md')) expect(readme).toContain(`](${file})`);
  });
});

describe('figures', () => {
  const BENCHMARKS = 'docs/benchmarks.md';
  const RUNS = [
    'bench/results/2026-11-27T08-32-15-688Z.json',
    'bench/results/2026-11-27T08-31-22-806Z-citus.json',
  ];
  /** The before/after comparison of the read-model contract: three runs of each build, alternating. */
  const COMPARISON = [
    '2026-12-04T04-27-48-089Z-before-209e9d1',
    '2026-12-04T04-29-13-936Z-after-5e57c43',
    '2026-12-04T04-30-23-356Z-before-209e9d1',
    '2026-12-04T04-31-23-243Z-after-5e57c43',
    '2026-12-04T04-32-25-550Z-before-209e9d1',
    '2026-12-04T04-33-30-789Z-after-5e57c43',
  ].map((run) => `bench/results/${run}.json`);

  it('the before/after comparison is there, run for run', () => {
    for (const run of COMPARISON) expect(existsSync(path.join(ROOT, run))).toBe(true);
  });

  it('docs/benchmarks.md quotes the dated runs it names', () => {
    const benchmarks = read(BENCHMARKS);
    for (const run of RUNS) {
      expect(benchmarks).toContain(run.replace(/\.json$/, '.md'));
      expect(existsSync(path.join(ROOT, run))).toBe(true);
    }
  });

  it.each(DOCS.filter((f) => f !== BENCHMARKS))('%s quotes no throughput figure', (file) => {
    expect(prose(read(file)).match(/\d[\d,.]*\s*k?\s*events\/s/g)).toBeNull();
  });

  /** The unit of a figure, from the path of JSON keys that leads to it. */
  function unitOf(keys: readonly string[]): string | undefined {
    const joined = keys.join('.');
    if (/stageMicrosPerEvent/.test(joined)) return 'µs';
    if (/peakRssMb/.test(joined)) return 'MB';
    if (/cpuSeconds/.test(joined)) return 's';
    if (/eventsPerSecond|append/.test(joined)) return 'events/s';
    if (/Ms|p50|p95|p99/.test(joined)) return 'ms';
    return undefined;
  }

  /** Every measured value of the dated runs, as "value unit": medians, spreads, percentiles. */
  function measuredFigures(): Set<string> {
    const figures = new Set<string>();
    const walk = (node: unknown, keys: readonly string[]): void => {
      const key = keys.at(-1) ?? '';
      if (['throughput', 'histogram', 'options', 'machine', 'settings'].includes(key)) return;
      if (typeof node === 'number') {
        const unit = unitOf(keys);
        if (unit !== undefined && node > 0) figures.add(`${node} ${unit}`);
      } else if (Array.isArray(node)) node.forEach((v) => walk(v, keys));
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) walk(v, [...keys, k]);
      }
    };
    for (const run of [...RUNS, ...COMPARISON]) walk(JSON.parse(read(run)) as unknown, []);
    return figures;
  }

  it('knows the figures of the dated runs', () => {
    const figures = measuredFigures();
    for (const figure of ['40173 events/s', '68 ms', '204 MB', '34.4 µs', '14105 events/s', '239 ms']) {
      expect(figures).toContain(figure);
    }
  });

  it.each(DOCS.filter((f) => f !== BENCHMARKS))('%s repeats no measured figure', (file) => {
    const measured = measuredFigures();
    // Figures with their unit, outside code (`"12,5"` is an input, "HTTP 200" a status).
    const text = prose(read(file)).replace(/`[^`\n]*`/g, '');
    const found = [...text.matchAll(/(?<![\d.])(\d[\d,]*(?:\.\d+)?)\s?(ms|s|MB|µs|events\/s)(?![\w/])/g)].map(
      (m) => `${m[1]!.replace(/,/g, '')} ${m[2]!}`,
    );
    expect(found.filter((figure) => measured.has(figure))).toEqual([]);
  });
});
