/**
 * Golden files: every input in testdata/in/ (one per workload kind, per annotation, per skip
 * reason, plus Services, Lists, pass-through kinds and namespace precedence) is injected and
 * compared with testdata/golden/<name>.yaml (output) and <name>.report (the stderr lines).
 * `UPDATE_GOLDEN=1 node --test dist/control/inject/golden.test.js` rewrites them; review the diff.
 * Every output object must also pass the Kubernetes schema with the strict field check.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { describeProblems, validateObject } from '../install/validate';
import { transformSources } from './manifest-stream';
import { formatReport, injectObject, isObject, uninjectObject, type Json } from './transform';

// Tests run from dist/control/inject; the golden files live beside the sources.
const TESTDATA = join(__dirname, '..', '..', '..', 'control', 'inject', 'testdata');
const ANCHORS = readFileSync(join(TESTDATA, 'trust-anchors.pem'), 'utf8');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function inject(name: string, text: string) {
  return transformSources([{ name, text }], (obj, ctx) =>
    injectObject(obj, {
      manual: !name.startsWith('annotate-'),
      trustAnchorsPem: ANCHORS,
      version: 'v-test',
      createdBy: 'linnet/cli test',
      namespaceAnnotations: ctx.namespaceAnnotations[String((obj.metadata as Json | undefined)?.namespace)],
    }),
  );
}

function objectsOf(text: string): Json[] {
  const out: Json[] = [];
  for (const doc of parseAllDocuments(text)) {
    const v = doc.toJS() as unknown;
    if (!isObject(v)) continue;
    if (v.kind === 'List' && Array.isArray(v.items)) out.push(...(v.items as Json[]));
    else out.push(v);
  }
  return out;
}

const inputs = readdirSync(join(TESTDATA, 'in')).filter((f) => f.endsWith('.yaml')).sort();

test('there is a golden case for every workload kind, skip reason and annotation', () => {
  for (const kind of ['pod', 'deployment', 'daemonset', 'statefulset', 'replicaset', 'replicationcontroller', 'job', 'cronjob']) assert.ok(inputs.includes(`kind-${kind}.yaml`), kind);
  for (const skip of ['hostnetwork', 'other-mesh', 'disabled']) assert.ok(inputs.includes(`skip-${skip}.yaml`), skip);
  for (const a of ['skip-inbound-ports', 'skip-outbound-ports', 'skip-subnets', 'opaque-ports', 'proxy-settings', 'resources', 'ingress', 'linkerd-aliases']) {
    assert.ok(inputs.includes(`annotation-${a}.yaml`), a);
  }
});

for (const file of inputs) {
  const name = file.replace(/\.yaml$/, '');
  test(`golden ${name}`, () => {
    const input = readFileSync(join(TESTDATA, 'in', file), 'utf8');
    const result = inject(name, input);
    const report = result.reports.filter((r) => r.status !== 'passthrough').map((r) => [formatReport(r), ...r.warnings.map((w) => `  warning: ${w}`)].join('\n')).join('\n') + '\n';
    const goldenOut = join(TESTDATA, 'golden', `${name}.yaml`);
    const goldenReport = join(TESTDATA, 'golden', `${name}.report`);
    if (UPDATE) {
      writeFileSync(goldenOut, result.output);
      writeFileSync(goldenReport, report);
    }
    assert.equal(result.output, readFileSync(goldenOut, 'utf8'), `${name}: output differs from golden (UPDATE_GOLDEN=1 to rewrite)`);
    assert.equal(report, readFileSync(goldenReport, 'utf8'), `${name}: report differs from golden`);

    for (const obj of objectsOf(result.output)) {
      if (obj.apiVersion === 'example.com/v1') continue; // a custom resource: no schema to check against
      assert.deepEqual(describeProblems(obj, validateObject(obj)), [], `${name}: output must pass the Kubernetes schema`);
    }
    // Injecting the output again changes nothing.
    assert.equal(inject(name, result.output).output, result.output, `${name}: inject is not idempotent`);
    // Uninject restores the input byte for byte, unless the input itself asked for injection
    // (uninject also removes linnet.io/inject: enabled, taking the workload out of the mesh), or
    // holds a Service (its opaque-ports annotation stays: it is true with or without the proxy).
    const un = transformSources([{ name, text: result.output }], (o) => uninjectObject(o)).output;
    if (!/inject: (enabled|ingress)/.test(input) && !/kind: Service/.test(input)) assert.equal(un, input, `${name}: uninject does not restore the input`);
  });
}

test('skip reasons are reported as the issue asks', () => {
  const line = (file: string) => readFileSync(join(TESTDATA, 'golden', `${file}.report`), 'utf8');
  assert.match(line('skip-hostnetwork'), /^pod "node-agent" skipped: hostNetwork is enabled$/m);
  assert.match(line('skip-other-mesh'), /skipped: pod already has another mesh's sidecar \(istio-proxy\)/);
  assert.match(line('skip-disabled'), /skipped: injection disabled by linnet\.io\/inject=disabled on the pod/);
  assert.match(line('skip-linkerd-disabled'), /skipped: injection disabled by linkerd\.io\/inject=disabled/);
  assert.match(line('kind-deployment'), /^deployment "web" injected: classic sidecar \(no API server version to go by\)$/m);
});
