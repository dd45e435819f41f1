/**
 * Static checks of the Helm chart's sources: every `.Values` path a template uses exists in
 * values.yaml, every manifest is valid YAML once template actions are replaced by placeholders,
 * and the dashboard only queries metrics the projector exports. Real Helm renders and lints it in
 * test/int/helm.int.test.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { METRIC } from '../../src/observability/metrics.js';

const chart = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helm/bet-projector');
const values = parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const templates = readdirSync(path.join(chart, 'templates')).map((file) => ({
  file,
  text: readFileSync(path.join(chart, 'templates', file), 'utf8'),
}));

function resolve(root: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root);
}

/** Template actions out: whole-line actions dropped, inline ones become a scalar placeholder. */
function placeholderRender(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*\{\{-?[^}]*-?\}\}\s*$/.test(line))
    .map((line) => line.replace(/"?\{\{-?[^}]*-?\}\}"?/g, 'x'))
    .join('\n');
}

describe('helm/bet-projector', () => {
  it('references only values that exist in values.yaml', () => {
    const missing: string[] = [];
    for (const { file, text } of templates) {
      for (const match of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
        if (resolve(values, match[1]!) === undefined) missing.push(`${file}: .Values.${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('renders every manifest to valid YAML with a kind and a name', () => {
    for (const { file, text } of templates.filter((t) => t.file.endsWith('.yaml'))) {
      const docs = parseAllDocuments(placeholderRender(text));
      for (const doc of docs) {
        expect({ file, errors: doc.errors.map((e) => e.message) }).toEqual({ file, errors: [] });
        const manifest = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
        expect(manifest?.kind).toBeTruthy();
        expect(manifest?.metadata?.name).toBeTruthy();
      }
    }
  });

  it('gives the pod more grace than the shutdown timeout, and caps autoscaling at the partition count', () => {
    const config = values['config'] as Record<string, string>;
    expect(Number(values['terminationGracePeriodSeconds']) * 1000).toBeGreaterThan(
      Number(config['SHUTDOWN_TIMEOUT_MS']),
    );
    const keda = resolve(values, 'autoscaling.keda.maxReplicaCount');
    const hpa = resolve(values, 'autoscaling.hpa.maxReplicas');
    expect(Number(keda)).toBeLessThanOrEqual(Number(config['KAFKA_TOPIC_PARTITIONS']));
    expect(Number(hpa)).toBeLessThanOrEqual(Number(config['KAFKA_TOPIC_PARTITIONS']));
  });

  it('gives each workload its own role: the migrate Job the migrator, the worker and lag check the worker role', () => {
    const roleOf = (file: string) =>
      [...templates.find((t) => t.file === file)!.text.matchAll(/"role" "(\w+)"/g)].map((m) => m[1]);
    expect(new Set(roleOf('deployment.yaml'))).toEqual(new Set(['worker']));
    expect(new Set(roleOf('lag-cronjob.yaml'))).toEqual(new Set(['worker']));
    expect(new Set(roleOf('migrate-job.yaml'))).toEqual(new Set(['migrator']));
    // No workload takes the whole Secret as environment: the worker must not see the migrator's URL.
    for (const { file, text } of templates)
      expect({ file, secretRef: /secretRef:/.test(text) }).toEqual({ file, secretRef: false });
  });

  it('mounts every file a *_FILE variable points at', () => {
    const helpers = templates.find((t) => t.file === '_helpers.tpl')!.text;
    const mounts = [...helpers.matchAll(/mountPath: (\S+)/g)].map((m) => m[1]!);
    const files = [...helpers.matchAll(/value: (\/etc\/bet-projector\/\S+)/g)].map((m) => m[1]!);
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const file of files) expect(mounts.some((mount) => file.startsWith(`${mount}/`))).toBe(true);
  });

  it('has a dashboard that only queries exported metrics', () => {
    const dashboard = readFileSync(path.join(chart, 'dashboards', 'bet-projector.json'), 'utf8');
    const exported = new Set<string>(Object.values(METRIC));
    const used = [...dashboard.matchAll(/projector_[a-z_]+/g)].map((m) =>
      m[0].replace(/_(bucket|sum|count)$/, ''),
    );
    expect(used.length).toBeGreaterThan(5);
    for (const name of used) expect(exported).toContain(name);
  });
});
