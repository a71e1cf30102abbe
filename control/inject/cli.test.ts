/**
 * `linnet inject` / `linnet uninject` as a user runs them (the real CLI in a child process):
 * files, folders (recursive), `-`, multi-document streams, List, JSON, unknown kinds, invalid
 * input (non-zero exit, nothing on stdout, an error naming the document and the field). Every
 * object printed passes the Kubernetes schema with the strict field check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { describeProblems, validateObject } from '../install/validate';

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'linnet');
const IN = join(ROOT, 'control', 'inject', 'testdata', 'in');
const ANCHORS = join(ROOT, 'control', 'inject', 'testdata', 'trust-anchors.pem');
const tmp = mkdtempSync(join(tmpdir(), 'linnet-inject-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function linnet(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function objects(text: string): Json[] {
  const out: Json[] = [];
  for (const d of parseAllDocuments(text)) {
    const v = d.toJS() as Json | null;
    if (!v) continue;
    if (v.kind === 'List') out.push(...v.items);
    else out.push(v);
  }
  return out;
}

function assertSchemaValid(text: string) {
  for (const o of objects(text)) {
    if (String(o.apiVersion).includes('example.com')) continue;
    assert.deepEqual(describeProblems(o, validateObject(o)), []);
  }
}

const proxyOf = (o: Json) => {
  const tpl = o.kind === 'Pod' ? o : o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
  return tpl.spec.containers.find((c: Json) => c.name === 'linnet-proxy');
};

test('files: default mode annotates, --manual renders the sidecar, reports go to stderr', () => {
  const file = join(IN, 'kind-deployment.yaml');
  const a = linnet(['inject', file]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stderr, 'deployment "web" injected\n');
  const [dep] = objects(a.stdout);
  assert.equal(dep!.spec.template.metadata.annotations['linnet.io/inject'], 'enabled');
  assert.equal(proxyOf(dep!), undefined);
  assert.match(a.stdout, /# the application/, 'comments kept');

  const m = linnet(['inject', '--manual', '--identity-trust-anchors-file', ANCHORS, file]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(m.stderr, 'deployment "web" injected: classic sidecar (no API server version to go by)\n');
  const proxy = proxyOf(objects(m.stdout)[0]!);
  assert.equal(proxy.securityContext.runAsUser, 2102);
  assert.deepEqual(proxy.ports.map((p: Json) => p.containerPort), [4143, 4191]);
  assertSchemaValid(m.stdout);

  const warn = linnet(['inject', '--manual', file]);
  assert.match(warn.stderr, /warning: no trust anchors given/);
});

test('a folder is read recursively, skips are reported with their reason', () => {
  const dir = join(tmp, 'tree');
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'a.yaml'), readFileSync(join(IN, 'kind-pod.yaml')));
  writeFileSync(join(dir, 'sub', 'b.yml'), readFileSync(join(IN, 'skip-hostnetwork.yaml')));
  writeFileSync(join(dir, 'sub', 'deeper', 'c.json'), JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: 'x' }] } } } }));
  writeFileSync(join(dir, 'sub', 'notes.txt'), 'not a manifest');
  const r = linnet(['inject', '--manual', '--identity-trust-anchors-file', ANCHORS, dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'pod "client" injected: classic sidecar (no API server version to go by)\npod "node-agent" skipped: hostNetwork is enabled\njob "j" injected: classic sidecar (no API server version to go by)\n');
  const objs = objects(r.stdout);
  assert.equal(objs.length, 3);
  assert.ok(proxyOf(objs[2]!), 'the JSON job is injected too');
  assertSchemaValid(r.stdout);
});

test('stdin (-), multi-document streams, List and unknown kinds: kubectl get | linnet inject - | kubectl apply', () => {
  const stream = readFileSync(join(IN, 'list-and-passthrough.yaml'), 'utf8') + '---\n' + readFileSync(join(IN, 'service-opaque-ports.yaml'), 'utf8');
  const r = linnet(['inject', '--manual', '--identity-trust-anchors-file', ANCHORS, '-'], stream);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'deployment "api" injected: classic sidecar (no API server version to go by)\nservice "db" annotated: opaque ports 3306\n');
  const objs = objects(r.stdout);
  assert.deepEqual(objs.map((o) => o.kind), ['Deployment', 'ConfigMap', 'Widget', 'Service', 'Service']);
  assert.match(r.stdout, /^kind: List$/m, 'the List stays a List');
  assert.match(r.stdout, /anything: \[1, 2, 3\]/, 'unknown kinds pass through untouched');
  assert.match(r.stdout, /key: value # untouched/);
  assertSchemaValid(r.stdout);

  // And back: uninject restores the workloads.
  const u = linnet(['uninject', '-'], r.stdout);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stderr, /deployment "api" uninjected/);
  assert.equal(proxyOf(objects(u.stdout)[0]!), undefined);
});

test('JSON in, JSON out (a single object stays plain JSON)', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'j', namespace: 'x' }, spec: { containers: [{ name: 'a', image: 'a' }] } };
  const r = linnet(['inject', '-'], JSON.stringify(pod));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Json;
  assert.equal(out.metadata.annotations['linnet.io/inject'], 'enabled');
});

test('invalid input: non-zero exit, nothing on stdout, the document and the field named', () => {
  const good = readFileSync(join(IN, 'kind-pod.yaml'), 'utf8');
  const cases: [string, RegExp][] = [
    [good + '---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken}\nspec: {selector: {}}\n', /- \(document 2\): Deployment "broken": spec\.template: a Deployment needs an object here/],
    [good + '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    config.linnet.io/skip-subnets: "10.0.0.0/99"\nspec:\n  containers: [{name: a, image: a}]\n', /Pod "p": pod metadata\.annotations\["config\.linnet\.io\/skip-subnets"\]: "10\.0\.0\.0\/99" is not a CIDR/],
    ['apiVersion: v1\nkind: Pod\nmetadata: {name: p\nspec: {}\n', /LINNET_INJECT_BAD_MANIFEST: -: line \d+, column \d+/],
    ['apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n', /spec\.containers: containers must be a non-empty list/],
    ['- just\n- a list\n', /a manifest must be an object/],
    ['apiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n    spec: {template: {spec: {}}}\n', /items\[0\]\): Deployment "d": spec\.template\.spec\.containers/],
  ];
  for (const [text, re] of cases) {
    const r = linnet(['inject', '--manual', '-'], text);
    assert.equal(r.code, 1, `exit code for ${re}`);
    assert.equal(r.stdout, '', 'nothing half-written');
    assert.match(r.stderr, re);
    assert.match(r.stderr, /^linnet inject: LINNET_INJECT_/);
  }
  const missing = linnet(['inject', join(tmp, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);
  assert.equal(linnet(['inject']).code, 2, 'no input is a usage error');
  assert.equal(linnet(['inject', '--bogus', '-'], good).code, 2);
});
