/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment,
   @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument,
   @typescript-eslint/no-unsafe-call --
   rendered Kubernetes manifests are free-form JSON, walked by path and checked by value */
/**
 * The chart as real Helm renders it (helm-java: the Helm v3 library, from Maven Central, through
 * scripts/helm.sh), for the value sets an SRE uses, every object checked against the Kubernetes API
 * schema (kubernetes-models 5.1.0: the OpenAPI of Kubernetes 1.31+, and the KEDA and
 * prometheus-operator CRDs' schemas) and against what a production namespace demands: the
 * restricted Pod Security Standard field by field, no service account token, probes with timeouts,
 * a ServiceMonitor that survives upgrades, and a migrate Job that can read its Secret on install.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { createMetrics } from '../../src/observability/metrics.js';
import { loadConfig } from '../../src/config.js';
import { entrypointNodeFlags } from '../support/imageFlags.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// HELM_CHART: another copy of the chart to hold to the same checks (an older one fails them).
const CHART = process.env['HELM_CHART'] ?? path.join(ROOT, 'helm/bet-projector');

/** Rendered manifests are free-form JSON: walked by path, checked by value. */
type Json = any;
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Json;
  [k: string]: Json;
};

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'apps/v1/Deployment': apps.Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'batch/v1/Job': batch.Job,
  'batch/v1/CronJob': batch.CronJob,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'v1/ServiceAccount': core.ServiceAccount,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': keda.ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': keda.TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule,
};

function helm(args: string[]): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts/helm.sh'), ...args], { encoding: 'utf8' });
}

const dir = mkdtempSync(path.join(tmpdir(), 'helm-values-'));

/** Renders the chart (or a copy at `chart`) with `values`; the objects, by kind. */
function render(values: object, chart = CHART): Obj[] {
  const file = path.join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const text = helm(['template', chart, file]);
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

/** The chart with its hooks made ordinary, so Helm renders them too (helm-java omits hooks). */
function chartWithHooksRendered(): string {
  const copy = mkdtempSync(path.join(tmpdir(), 'chart-'));
  cpSync(CHART, copy, { recursive: true });
  for (const file of readdirSync(path.join(copy, 'templates'))) {
    const p = path.join(copy, 'templates', file);
    writeFileSync(p, readFileSync(p, 'utf8').replace(/^\s*"helm\.sh\/hook[^\n]*\n/gm, ''));
  }
  return copy;
}

const URL_ONLY = { secret: { DATABASE_URL: 'postgres://bp_worker@db:5432/bets' } };
const VALUE_SETS: Record<string, object> = {
  'defaults with a URL': URL_ONLY,
  existingSecret: { secret: { existingSecret: 'bet-projector-db' } },
  'TLS + SASL Kafka, KEDA on': {
    ...URL_ONLY,
    kafka: {
      tls: { enabled: true, secret: 'kafka-ca', clientCertificate: true },
      sasl: { mechanism: 'scram-sha-512', secret: 'kafka-user' },
    },
    autoscaling: { keda: { enabled: true } },
  },
  'HPA on, ServiceMonitor, PrometheusRule, lag CronJob': {
    ...URL_ONLY,
    autoscaling: { hpa: { enabled: true } },
    serviceMonitor: { enabled: true },
    prometheusRule: { enabled: true },
    lagCheck: { enabled: true },
  },
  'traces on, collector headers from a Secret': {
    ...URL_ONLY,
    tracing: { endpoint: 'http://otel-collector.observability:4318', headersSecret: 'otel-headers' },
  },
  'NetworkPolicy on, private registry': {
    ...URL_ONLY,
    networkPolicy: { enabled: true },
    imagePullSecrets: [{ name: 'regcred' }],
  },
};

/** Every pod template of the rendered objects, with where it came from. */
function podSpecs(objects: Obj[]): Array<{ from: string; spec: Json }> {
  return objects.flatMap((o) => {
    if (o.kind === 'Deployment' || o.kind === 'Job')
      return [{ from: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec }];
    if (o.kind === 'CronJob')
      return [{ from: `${o.kind}/${o.metadata.name}`, spec: o.spec.jobTemplate.spec.template.spec }];
    return [];
  });
}

describe('the Helm chart rendered by real Helm', () => {
  // On a machine that never ran Helm here, helm-java is resolved from Maven Central first: it takes
  // longer than one test may, and then the first tests timed out.
  beforeAll(() => void helm(['classpath']), 10 * 60_000);

  it('passes helm lint --strict', () => {
    const out = helm(['lint']);
    expect(out).not.toMatch(/\[(ERROR|WARNING)\]/);
  });

  it('refuses values of the wrong type or under an unknown key, naming them (values.schema.json)', () => {
    const refused = (values: object) => {
      try {
        render(values);
      } catch (error) {
        return String((error as { stderr?: string }).stderr ?? error);
      }
      return 'rendered';
    };
    expect(refused({ ...URL_ONLY, replicaCount: 'two' })).toContain('replicaCount: Invalid type');
    expect(refused({ ...URL_ONLY, replicas: 3 })).toContain('replicas');
    expect(refused({ ...URL_ONLY, heapLimitMiB: 16 })).toContain('heapLimitMiB');
    expect(refused({ ...URL_ONLY, kafka: { sasl: { mechanism: 'gssapi' } } })).toContain('mechanism');
    expect(refused({ ...URL_ONLY, tracing: { endpoint: 'http://c:4318', protocol: 'grpc' } })).toContain(
      'protocol',
    );
  });

  it('passes the tracing values as the OTEL_* variables the projector reads, and they load (docs/operations.md#traces)', () => {
    const objects = render({
      ...URL_ONLY,
      tracing: {
        endpoint: 'http://otel-collector.observability:4318',
        samplerRatio: '0.05',
        headersSecret: 'otel-headers',
      },
    });
    const data = objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>;
    const otel = Object.fromEntries(Object.entries(data).filter(([k]) => k.startsWith('OTEL_')));
    expect(otel).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'bet-projector',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.05',
    });
    expect(loadConfig(data).tracing).toEqual({
      protocol: 'http/protobuf',
      endpoint: 'http://otel-collector.observability:4318/v1/traces',
      serviceName: 'bet-projector',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.05,
    });
    const container = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
    const env = container.env as Array<{ name: string; valueFrom?: Json }>;
    expect(env.find((e) => e.name === 'OTEL_EXPORTER_OTLP_HEADERS')?.valueFrom).toEqual({
      secretKeyRef: { name: 'otel-headers', key: 'headers' },
    });
    // Off by default: no OTEL_* at all.
    const off = render(URL_ONLY).find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>;
    expect(Object.keys(off).filter((k) => k.startsWith('OTEL_'))).toEqual([]);
  });

  it('gives the worker a heap ceiling that Node takes, within two thirds of its memory limit (heapLimitMiB)', () => {
    const worker = (objects: Obj[]): Json =>
      objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
    const nodeOptions = (objects: Obj[]) =>
      (worker(objects).env as Array<{ name: string; value?: string }>).find((e) => e.name === 'NODE_OPTIONS')
        ?.value;
    const defaults = render(URL_ONLY);
    const options = nodeOptions(defaults);
    const mib = Number(/^--max-old-space-size=(\d+)$/.exec(options ?? '')?.[1]);
    const limit = String(worker(defaults).resources.limits.memory);
    const limitMiB =
      Number(/^(\d+)Mi$/.exec(limit)?.[1] ?? NaN) || Number(/^(\d+)Gi$/.exec(limit)?.[1]) * 1024;
    expect(mib).toBeGreaterThan(0);
    expect(mib).toBeLessThanOrEqual((limitMiB * 2) / 3);
    // Node itself, started as the image starts it with those options: its heap limit is the
    // ceiling and the young generation (which the image's --max-semi-space-size keeps small).
    const script = ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'];
    const heapLimit = Number(
      execFileSync(process.execPath, [...entrypointNodeFlags(), ...script], {
        env: { PATH: process.env['PATH'] ?? '', NODE_OPTIONS: options },
        encoding: 'utf8',
      }),
    );
    expect(heapLimit).toBeGreaterThanOrEqual(mib * 2 ** 20);
    expect(heapLimit).toBeLessThan(limitMiB * 2 ** 20);
    // Raised with the limit, or left to Node.
    const raised = { ...URL_ONLY, resources: { limits: { memory: '1Gi' } } };
    expect(nodeOptions(render({ ...raised, heapLimitMiB: 512 }))).toBe('--max-old-space-size=512');
    expect(nodeOptions(render({ ...URL_ONLY, heapLimitMiB: null }))).toBeUndefined();
    // An operator's own NODE_OPTIONS (config) still reach the worker, after the ceiling.
    const own = render({ ...URL_ONLY, config: { NODE_OPTIONS: '--enable-source-maps' } });
    expect(nodeOptions(own)).toBe('--max-old-space-size=256 --enable-source-maps');
    // A ceiling the limit cannot hold is refused, naming both.
    expect(() => render({ ...URL_ONLY, heapLimitMiB: 512 })).toThrow(
      /heapLimitMiB 512 is above two thirds of resources.limits.memory 384Mi/,
    );
  });

  describe.each(Object.entries(VALUE_SETS))('%s', (_, values) => {
    // Rendered when the tests run, after the outer beforeAll has resolved Helm: a describe body
    // runs at collection time, before any hook, and a cold machine would render during resolution.
    let objects: Obj[] = [];
    let hooked: Obj[] = [];
    beforeAll(() => {
      objects = render(values);
      hooked = render(values, chartWithHooksRendered());
    }, 2 * 60_000);

    it('renders only objects valid against the Kubernetes API schema', () => {
      expect(objects.length).toBeGreaterThan(3);
      for (const o of [...objects, ...hooked]) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        expect(Model).toBeDefined();
        expect(() => new Model!(o as never).validate()).not.toThrow();
      }
    });

    it('every pod meets the restricted Pod Security Standard and mounts no service account token', () => {
      const pods = podSpecs(hooked);
      expect(pods.length).toBeGreaterThan(1);
      for (const { from, spec } of pods) {
        expect({ from, token: spec.automountServiceAccountToken }).toEqual({ from, token: false });
        expect(spec.hostNetwork ?? false).toBe(false);
        expect(spec.hostPID ?? false).toBe(false);
        expect(spec.hostIPC ?? false).toBe(false);
        for (const v of spec.volumes ?? []) expect(v.hostPath).toBeUndefined();
        for (const c of spec.containers) {
          const sc = c.securityContext ?? {};
          const where = `${from} ${c.name}`;
          expect({ where, allowPrivilegeEscalation: sc.allowPrivilegeEscalation }).toEqual({
            where,
            allowPrivilegeEscalation: false,
          });
          expect(sc.privileged ?? false).toBe(false);
          expect(sc.capabilities?.drop).toContain('ALL');
          expect(sc.capabilities?.add ?? []).toEqual([]);
          expect(sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot).toBe(true);
          expect((sc.seccompProfile ?? spec.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
          expect(sc.runAsUser ?? spec.securityContext?.runAsUser).not.toBe(0);
        }
      }
    });

    it('the worker has startup, liveness and readiness probes, each with a timeout', () => {
      const worker = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        expect(worker[probe]?.timeoutSeconds).toBeGreaterThan(0);
      }
    });

    it('the migrate Job, run before the release exists, reads only Secrets that exist by then', () => {
      const job = hooked.find((o) => o.kind === 'Job');
      if (!job) return;
      const refs = new Set<string>();
      const spec = job.spec.template.spec;
      for (const c of spec.containers) {
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) refs.add(e.valueFrom.secretKeyRef.name);
        for (const e of c.envFrom ?? []) if (e.secretRef) refs.add(e.secretRef.name);
      }
      for (const v of spec.volumes ?? []) if (v.secret) refs.add(v.secret.secretName);
      const chartSecrets = hooked.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name);
      const userSecrets = [
        (values as { secret?: { existingSecret?: string } }).secret?.existingSecret,
        'kafka-ca',
        'kafka-user',
        'otel-headers',
      ];
      for (const name of refs) expect([...chartSecrets, ...userSecrets]).toContain(name);
      // A Secret the chart makes is itself a hook that runs first: on install the Job finds it.
      const source = (file: string) => readFileSync(path.join(CHART, 'templates', file), 'utf8');
      const weight = (text: string) => Number(/"helm\.sh\/hook-weight": "(-?\d+)"/.exec(text)![1]);
      if (chartSecrets.length > 0) {
        expect(source('secret.yaml')).toContain('"helm.sh/hook": pre-install,pre-upgrade');
        expect(weight(source('secret.yaml'))).toBeLessThan(weight(source('migrate-job.yaml')));
      }
    });

    it('KEDA, when on, reads lag with the workers’ Kafka credentials', () => {
      const scaled = objects.find((o) => o.kind === 'ScaledObject');
      if (!scaled) return;
      const trigger = scaled.spec.triggers[0];
      const secured = (values as { kafka?: { sasl?: { mechanism?: string } } }).kafka?.sasl?.mechanism;
      if (!secured) return;
      expect(trigger.metadata).toMatchObject({ sasl: 'scram_sha512', tls: 'enable' });
      const auth = objects.find(
        (o) => o.kind === 'TriggerAuthentication' && o.metadata.name === trigger.authenticationRef.name,
      );
      expect(auth!.spec.secretTargetRef.map((r: { parameter: string }) => r.parameter).sort()).toEqual([
        'ca',
        'cert',
        'key',
        'password',
        'username',
      ]);
    });

    it('alert rules query only metrics the worker serves, with labels those metrics carry', async () => {
      const rules = objects.find((o) => o.kind === 'PrometheusRule');
      if (!rules) return;
      // Every name a scrape of the worker shows (histograms as their three series).
      const served = new Set<string>();
      for (const m of await createMetrics().registry.getMetricsAsJSON()) {
        const series = String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
        for (const suffix of series) served.add(m.name + suffix);
      }
      const METRIC_LABELS: Record<string, string[]> = {
        projector_consumer_lag_messages: ['topic', 'partition'],
        projector_checkpoint_event_timestamp_seconds: ['topic', 'partition'],
        projector_events_total: ['result'],
        projector_undecodable_batches_total: ['topic', 'partition', 'codec'],
        projector_retries_total: ['operation'],
        projector_consumer_restarts_total: ['reason'],
      };
      const alerts = rules.spec.groups.flatMap(
        (g: { rules: Array<{ alert: string; expr: string }> }) => g.rules,
      );
      expect(alerts.map((r: { alert: string }) => r.alert)).toEqual(
        expect.arrayContaining([
          'BetProjectorLagging',
          'BetProjectorPartitionStalled',
          'BetProjectorDeadLetters',
          'BetProjectorRestarting',
        ]),
      );
      for (const { alert, expr } of alerts as Array<{ alert: string; expr: string }>) {
        const used = [...expr.matchAll(/\b((?:projector|process)_[a-z_]+)(\{[^}]*\})?/g)];
        expect({ alert, queries: used.length > 0 }).toEqual({ alert, queries: true });
        for (const [, name, selector] of used) {
          expect({ alert, name, served: served.has(name!) }).toEqual({ alert, name, served: true });
          // Label matchers other than the scrape's own (job, pod) name labels the metric has.
          for (const [, label] of (selector ?? '').matchAll(/([a-z_]+)=~?"/g)) {
            if (label === 'job' || label === 'pod') continue;
            expect({ alert, name, label, known: (METRIC_LABELS[name!] ?? []).includes(label!) }).toEqual({
              alert,
              name,
              label,
              known: true,
            });
          }
        }
      }
    });

    it('selectors that survive an upgrade; a PDB that lets a drain evict unhealthy pods', () => {
      const service = objects.find((o) => o.kind === 'Service')!;
      const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
      if (monitor) {
        const selector = monitor.spec.selector.matchLabels as Record<string, string>;
        expect(Object.keys(selector)).not.toContain('helm.sh/chart');
        expect(Object.keys(selector)).not.toContain('app.kubernetes.io/version');
        for (const [k, v] of Object.entries(selector)) expect(service.metadata.labels?.[k]).toBe(v);
      }
      const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget')!;
      expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    });
  });
});
