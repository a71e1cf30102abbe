/**
 * Properties of the transform over generated workloads (fast-check): injection is idempotent,
 * uninject undoes it exactly, the output passes the Kubernetes schema, the YAML stream round-trips
 * byte for byte; plus direct unit tests of precedence, aliases and annotation errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describeProblems, validateObject } from '../install/validate';
import { lookup, parsePortList } from './annotations';
import { InjectError } from './errors';
import { applyPatch, createPatch } from './json-patch';
import { transformSources } from './manifest-stream';
import { INIT_CONTAINER, PROXY_CONTAINER } from './sidecar';
import { POD_TEMPLATE_PATHS, injectObject, uninjectObject, type InjectOptions, type Json } from './transform';

const ANCHORS = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const KINDS = Object.keys(POD_TEMPLATE_PATHS);
const API: Record<string, string> = { Pod: 'v1', ReplicationController: 'v1', Job: 'batch/v1', CronJob: 'batch/v1' };

const dnsName = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
const container = fc.record({
  name: dnsName,
  image: fc.constantFrom('nginx:1.25', 'redis:7', 'example/app:1'),
  ports: fc.option(fc.uniqueArray(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }), name: fc.option(fc.constantFrom('http', 'mysql', 'grpc', 'smtp'), { nil: undefined }) }, { requiredKeys: ['containerPort'] }), { minLength: 1, maxLength: 3, selector: (p) => p.containerPort }), { nil: undefined }),
}, { requiredKeys: ['name', 'image'] });

/** Valid config annotations (bad values are tested separately: they must throw, not pass). */
const configAnnotations = fc.dictionary(
  fc.constantFrom(
    'config.linnet.io/skip-inbound-ports', 'config.linnet.io/skip-outbound-ports', 'config.linkerd.io/skip-outbound-ports',
    'config.linnet.io/opaque-ports', 'config.linnet.io/proxy-log-level', 'config.linnet.io/proxy-workers', 'config.linnet.io/skip-subnets',
    'config.linnet.io/proxy-cpu-limit', 'app.kubernetes.io/team',
    'config.linkerd.io/proxy-enable-native-sidecar', 'config.linkerd.io/proxy-await', 'config.linnet.io/shutdown-grace-period',
  ),
  fc.constant(''),
  { maxKeys: 5 },
).map((d) => {
  const value: Record<string, string> = {
    'config.linnet.io/skip-inbound-ports': '25,8000-8010',
    'config.linnet.io/skip-outbound-ports': '443',
    'config.linkerd.io/skip-outbound-ports': '3306',
    'config.linnet.io/opaque-ports': '9000-9005',
    'config.linnet.io/proxy-log-level': 'debug',
    'config.linnet.io/proxy-workers': '2',
    'config.linnet.io/skip-subnets': '10.0.0.0/8',
    'config.linnet.io/proxy-cpu-limit': '500m',
    'app.kubernetes.io/team': 'payments',
    'config.linkerd.io/proxy-enable-native-sidecar': 'true',
    'config.linkerd.io/proxy-await': 'disabled',
    'config.linnet.io/shutdown-grace-period': '45s',
  };
  return Object.fromEntries(Object.keys(d).map((k) => [k, value[k]!]));
});

const workload = fc
  .record({
    kind: fc.constantFrom(...KINDS),
    name: dnsName,
    namespace: fc.option(dnsName, { nil: undefined }),
    labels: fc.option(fc.dictionary(fc.constantFrom('app', 'tier', 'version'), dnsName, { minKeys: 1 }), { nil: undefined }),
    annotations: configAnnotations,
    containers: fc.uniqueArray(container, { minLength: 1, maxLength: 3, selector: (c) => c.name }),
    initContainers: fc.option(fc.uniqueArray(container, { minLength: 1, maxLength: 2, selector: (c) => c.name }), { nil: undefined }),
    volumes: fc.option(fc.uniqueArray(fc.record({ name: dnsName, emptyDir: fc.constant({}) }), { minLength: 1, maxLength: 2, selector: (v) => v.name }), { nil: undefined }),
    grace: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
  })
  .map((w) => JSON.parse(JSON.stringify(w)) as typeof w) // plain prototypes, no undefined keys
  .map((w): Json => {
    const podMeta: Json = {};
    if (w.labels) podMeta.labels = w.labels;
    if (Object.keys(w.annotations).length > 0) podMeta.annotations = w.annotations;
    const spec: Json = { containers: w.containers };
    if (w.initContainers) spec.initContainers = w.initContainers;
    if (w.volumes) spec.volumes = w.volumes;
    if (w.grace !== undefined) spec.terminationGracePeriodSeconds = w.grace;
    const meta: Json = { name: w.name };
    if (w.namespace) meta.namespace = w.namespace;
    if (w.kind === 'Pod') return { apiVersion: 'v1', kind: 'Pod', metadata: { ...meta, ...podMeta }, spec };
    const template: Json = Object.keys(podMeta).length ? { metadata: podMeta, spec } : { spec };
    const selector = { matchLabels: { app: w.name } };
    switch (w.kind) {
      case 'Job':
        return { apiVersion: 'batch/v1', kind: 'Job', metadata: meta, spec: { template } };
      case 'CronJob':
        return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta, spec: { schedule: '@daily', jobTemplate: { spec: { template } } } };
      case 'ReplicationController':
        return { apiVersion: 'v1', kind: w.kind, metadata: meta, spec: { template } };
      default:
        return { apiVersion: API[w.kind] ?? 'apps/v1', kind: w.kind, metadata: meta, spec: { selector, template, ...(w.kind === 'StatefulSet' ? { serviceName: w.name } : {}) } };
    }
  });

// Both sidecar forms: the API server's version (unknown, 1.27-1.31) and the install default vary.
const modes = fc.record({
  manual: fc.boolean(),
  anchors: fc.boolean(),
  minor: fc.option(fc.integer({ min: 27, max: 31 }), { nil: undefined }),
  native: fc.constantFrom('auto', 'enabled', 'disabled') as fc.Arbitrary<'auto' | 'enabled' | 'disabled'>,
});
const opts = (m: { manual: boolean; anchors: boolean; minor?: number; native?: 'auto' | 'enabled' | 'disabled' }): InjectOptions => ({
  manual: m.manual,
  trustAnchorsPem: m.anchors ? ANCHORS : undefined,
  version: 'v1',
  createdBy: 'test',
  kubernetesVersion: m.minor === undefined ? undefined : { major: 1, minor: m.minor },
  nativeSidecarDefault: m.native,
});

test('inject is idempotent', () => {
  fc.assert(
    fc.property(workload, modes, (w, m) => {
      const once = injectObject(w, opts(m));
      const twice = injectObject(once.object, opts(m));
      assert.deepEqual(twice.object, once.object);
      assert.equal(twice.changed, false);
    }),
    { numRuns: 300 },
  );
});

test('uninject(inject(x)) is x, and inject never mutates its input', () => {
  fc.assert(
    fc.property(workload, modes, (w, m) => {
      const copy = structuredClone(w);
      const injected = injectObject(w, opts(m));
      assert.deepEqual(w, copy, 'input mutated');
      assert.equal(injected.changed, true);
      assert.deepEqual(uninjectObject(injected.object).object, w);
    }),
    { numRuns: 300 },
  );
});

test('every injected workload passes the Kubernetes schema with strict fields', () => {
  fc.assert(
    fc.property(workload, modes, (w, m) => {
      const out = injectObject(w, opts(m)).object;
      assert.deepEqual(describeProblems(out, validateObject(out)), []);
    }),
    { numRuns: 100 },
  );
});

test('the YAML stream round-trips byte for byte through inject --manual and uninject', () => {
  fc.assert(
    fc.property(fc.array(workload, { minLength: 1, maxLength: 3 }), (ws) => {
      const text = ws.map((w) => stringify(w)).join('---\n');
      const injected = transformSources([{ name: 't', text }], (o) => injectObject(o, opts({ manual: true, anchors: true }))).output;
      const back = transformSources([{ name: 't', text: injected }], (o) => uninjectObject(o)).output;
      assert.equal(back, text);
    }),
    { numRuns: 60 },
  );
});

test('JSON Patch from the webhook turns the pod into the injected pod', () => {
  fc.assert(
    fc.property(workload, (w) => {
      const out = injectObject(w, opts({ manual: true, anchors: true })).object;
      assert.deepEqual(applyPatch(w, createPatch(w, out)), out);
    }),
    { numRuns: 200 },
  );
  const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  fc.assert(
    fc.property(json, json, (a, b) => {
      fc.pre(!JSON.stringify([a, b]).includes('__proto__'));
      assert.deepEqual(applyPatch(a, createPatch(a, b)), b);
    }),
    { numRuns: 300 },
  );
});

test('the pod annotation wins over the namespace; the linnet key over the linkerd alias', () => {
  assert.deepEqual(lookup({ 'linnet.io/inject': 'disabled' }, { 'linnet.io/inject': 'enabled' }, ['linnet.io/inject', 'linkerd.io/inject']), { value: 'disabled', key: 'linnet.io/inject', from: 'pod' });
  assert.equal(lookup({ 'linkerd.io/inject': 'enabled', 'linnet.io/inject': 'disabled' }, {}, ['linnet.io/inject', 'linkerd.io/inject'])!.value, 'disabled');
  assert.equal(lookup({}, { 'linkerd.io/inject': 'ingress' }, ['linnet.io/inject', 'linkerd.io/inject'])!.from, 'namespace');
});

const pod = (annotations: Record<string, string>, extra: Json = {}): Json => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', annotations }, spec: { containers: [{ name: 'app', image: 'x', ports: [{ name: 'db', containerPort: 7000 }] }], ...extra },
});
const envOf = (obj: Json, name: string) => ((((obj.spec as Json).containers as Json[])[0]!.env as Json[]).find((e) => e.name === name) ?? {}).value;

test('webhook mode: the namespace opts in, the pod opts out, namespace config applies under pod config', () => {
  const ns = { 'linnet.io/inject': 'enabled', 'config.linnet.io/proxy-log-level': 'warn', 'config.linnet.io/opaque-ports': '7000' };
  const base: InjectOptions = { manual: true, requireOptIn: true, namespaceAnnotations: ns, trustAnchorsPem: ANCHORS };
  const r1 = injectObject(pod({}), base);
  assert.equal(r1.report.status, 'injected');
  assert.equal(envOf(r1.object, 'LINNET_PROXY_LOG'), 'warn');
  assert.equal(envOf(r1.object, 'LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION'), '7000');
  assert.equal(envOf(injectObject(pod({ 'config.linnet.io/proxy-log-level': 'debug' }), base).object, 'LINNET_PROXY_LOG'), 'debug');
  assert.equal(injectObject(pod({ 'linnet.io/inject': 'disabled' }), base).report.status, 'skipped');
  const r2 = injectObject(pod({}), { ...base, namespaceAnnotations: {} });
  assert.equal(r2.report.status, 'skipped');
  assert.match(r2.report.reason!, /not enabled/);
  // Port names in annotations resolve against the pod's container ports.
  assert.equal(envOf(injectObject(pod({ 'config.linnet.io/opaque-ports': 'db,25' }), base).object, 'LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION'), '7000,25');
  assert.equal(injectObject(pod({}, { hostNetwork: true }), base).report.reason, 'hostNetwork is enabled');
});

test('inbound policy: the proxy names its pod to the policy service, watches the app ports from start, and takes the default from pod, namespace or install', () => {
  const base: InjectOptions = { manual: true, trustAnchorsPem: ANCHORS };
  const r = injectObject(pod({}, { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 9000 }, { containerPort: 7000 }, { containerPort: 53, protocol: 'UDP' }] }] }), base).object;
  const env = (obj: Json, name: string) => ((((obj.spec as Json).containers as Json[]).find((c) => c.name === PROXY_CONTAINER)!.env as Json[]).find((e) => e.name === name) ?? {}).value;
  assert.equal(env(r, 'LINNET_PROXY_POLICY_SVC_ADDR'), 'linnet-policy.linnet.svc.cluster.local.:8090');
  assert.equal(env(r, 'LINNET_PROXY_POLICY_WORKLOAD'), '$(_pod_ns):$(_pod_name)');
  assert.equal(env(r, 'LINNET_PROXY_INBOUND_PORTS'), '7000,9000', 'TCP container ports only, sorted');
  assert.equal(env(r, 'LINNET_PROXY_INBOUND_DEFAULT_POLICY'), undefined, 'no annotation and no install default: the proxy keeps its own');
  const dip = (podAnn: Record<string, string>, nsAnn: Record<string, string>, install?: InjectOptions['defaultInboundPolicy']) =>
    env(injectObject(pod(podAnn), { ...base, namespaceAnnotations: nsAnn, ...(install ? { defaultInboundPolicy: install } : {}) }).object, 'LINNET_PROXY_INBOUND_DEFAULT_POLICY');
  assert.equal(dip({}, {}, 'deny'), 'deny');
  assert.equal(dip({}, { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' }, 'deny'), 'all-authenticated');
  assert.equal(dip({ 'config.linnet.io/default-inbound-policy': 'audit' }, { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' }, 'deny'), 'audit');
});

test('tap: served to the viz service\'s identity by default when the proxy has an identity; config.linkerd.io/disable-tap turns it off; never without identity', () => {
  const env = (obj: Json, name: string) => ((((obj.spec as Json).containers as Json[]).find((c) => c.name === PROXY_CONTAINER)!.env as Json[]).find((e) => e.name === name) ?? {}).value;
  const TAP = 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local';
  assert.equal(env(injectObject(pod({}), { manual: true, trustAnchorsPem: ANCHORS }).object, 'LINNET_PROXY_TAP_SVC_NAME'), TAP);
  assert.equal(env(injectObject(pod({ 'config.linkerd.io/disable-tap': 'true' }), { manual: true, trustAnchorsPem: ANCHORS }).object, 'LINNET_PROXY_TAP_SVC_NAME'), undefined);
  assert.equal(env(injectObject(pod({}), { manual: true, trustAnchorsPem: ANCHORS, namespaceAnnotations: { 'config.linnet.io/disable-tap': 'true' } }).object, 'LINNET_PROXY_TAP_SVC_NAME'), undefined);
  assert.equal(env(injectObject(pod({}), { manual: true }).object, 'LINNET_PROXY_TAP_SVC_NAME'), undefined, 'no identity, no tap (it is served over mTLS)');
});

test('bad annotations throw InjectError naming the field and how to fix it', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'config.linnet.io/skip-inbound-ports': '80,70000' }, /skip-inbound-ports.*70000/],
    [{ 'config.linnet.io/opaque-ports': 'nosuchport' }, /no container port is named "nosuchport"/],
    [{ 'config.linnet.io/skip-subnets': '10.0.0.0/33' }, /not a CIDR/],
    [{ 'config.linnet.io/proxy-workers': '0' }, /worker count/],
    [{ 'config.linnet.io/proxy-memory-limit': 'lots' }, /Kubernetes quantity/],
    [{ 'linnet.io/inject': 'yes' }, /not enabled, disabled or ingress/],
    [{ 'config.linkerd.io/default-inbound-policy': 'allow-all' }, /not a default inbound policy/],
  ];
  for (const [ann, re] of cases) {
    assert.throws(
      () => injectObject(pod(ann), { manual: true }),
      (err: unknown) => err instanceof InjectError && err.code === 'LINNET_INJECT_BAD_ANNOTATION' && re.test(err.message) && /metadata\.annotations\["/.test(err.message) && !!err.hint,
    );
  }
  assert.throws(() => parsePortList({ value: '1-3, 3-1', key: 'k', from: 'pod' }), /3-1 is not a port or range/);
  assert.deepEqual(parsePortList({ value: ' 25, 25 ,8000-8100', key: 'k', from: 'pod' }), [{ lo: 25, hi: 25 }, { lo: 8000, hi: 8100 }]);
});

test('uninject removes exactly our containers, volumes, labels and annotations', () => {
  const injected = injectObject(pod({ keep: 'me' }), { manual: true, trustAnchorsPem: ANCHORS }).object;
  const spec = injected.spec as Json;
  assert.equal((spec.containers as Json[])[0]!.name, PROXY_CONTAINER);
  assert.equal((spec.initContainers as Json[])[0]!.name, INIT_CONTAINER);
  const back = uninjectObject(injected).object;
  assert.deepEqual(back, pod({ keep: 'me' }));
});
