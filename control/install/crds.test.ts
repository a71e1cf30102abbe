/**
 * `linnet install --crds`: the policy CRDs are valid Kubernetes objects with structural schemas,
 * serve every version the reader reads (newest stored), and the schemas mean something: Linkerd's
 * documented shapes (testdata/policy-examples.yaml) both read in Linnet's reader and validate
 * against the CRD of their version (ajv, with the API server's strict unknown-field rule), while
 * malformed documents are refused. Then the CLI: only CRDs printed, each valid; flags that do not
 * apply are refused; `linnet install` without --crds prints none.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Ajv, { type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { parsePolicyDocuments } from '../policy/documents';
import { KINDS, POLICY_GROUP, parsePolicyResource, PolicyResourceError } from '../policy/resources';
import { DURATION_PATTERN, type Schema } from './crd-schemas';
import { crdProblems, crdSchema, policyCrds, structuralProblems } from './crds';
import { describeProblems, validateObject } from './validate';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'linnet');
const EXAMPLES = join(ROOT, 'control', 'install', 'testdata', 'policy-examples.yaml');

function linnet(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const docs = (text: string): Json[] => parseAllDocuments(text).map((d) => d.toJS() as Json).filter(Boolean);

/**
 * The schema as the API server applies it to a create with fieldValidation=Strict (kubectl's
 * default): an object with declared properties refuses any other key, unless it preserves
 * unknown fields. ajv has no such mode, so it is written into a copy.
 */
function strict(s: Schema): Schema {
  const out: Schema = { ...s };
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties as Record<string, Schema>).map(([k, v]) => [k, strict(v)]));
  if (out.items) out.items = strict(out.items as Schema);
  if (typeof out.additionalProperties === 'object') out.additionalProperties = strict(out.additionalProperties as Schema);
  return out;
}

// strictRequired off: a oneOf branch names properties declared beside it, as Kubernetes requires.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
ajv.addVocabulary(['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys']);
ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
ajv.addFormat('duration', new RegExp(DURATION_PATTERN));

const crds = policyCrds() as Json[];
const compiled = new Map<string, ValidateFunction>();
function validatorFor(apiVersion: string, kind: string): ValidateFunction {
  const key = `${apiVersion}/${kind}`;
  let v = compiled.get(key);
  if (!v) {
    const [group, version] = apiVersion.split('/');
    const schema = crdSchema(crds, group!, kind, version!);
    assert.ok(schema, `no served CRD version for ${key}`);
    v = ajv.compile(strict(schema));
    compiled.set(key, v);
  }
  return v;
}
function schemaErrors(o: Json): string[] {
  const v = validatorFor(o.apiVersion, o.kind);
  return v(o) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}

test('every policy CRD is a valid apiextensions.k8s.io/v1 object with structural schemas', () => {
  assert.equal(crds.length, 6);
  for (const c of crds) {
    assert.deepEqual(describeProblems(c, validateObject(c)), [], `${c.metadata.name}: kubernetes-models (strict fields)`);
    assert.deepEqual(crdProblems(c), [], `${c.metadata.name}: structural`);
    assert.equal(c.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(c.spec.group, POLICY_GROUP);
    assert.equal(c.metadata.name, `${c.spec.names.plural}.${POLICY_GROUP}`);
    assert.equal(c.spec.scope, 'Namespaced');
    assert.deepEqual(c.spec.conversion, { strategy: 'None' });
  }
});

test('each kind serves exactly the policy.linkerd.io versions the reader reads, the newest is stored, status is kept as it comes', () => {
  const order = ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'];
  for (const [kind, k] of Object.entries(KINDS)) {
    const groups: readonly string[] = Array.isArray(k.group) ? k.group : [k.group as string];
    const c = crds.find((x) => x.spec.names.kind === kind);
    if (!groups.includes(POLICY_GROUP)) {
      assert.equal(c, undefined, `${kind} is not a policy.linkerd.io kind: no CRD of ours`);
      continue;
    }
    assert.ok(c, `a CRD for ${kind}`);
    const expected = (k.versions as readonly string[]).filter((v) => order.includes(v));
    const versions = c.spec.versions as Json[];
    assert.deepEqual(versions.map((v) => v.name), expected, kind);
    assert.ok(versions.every((v) => v.served === true), `${kind}: all served`);
    assert.deepEqual(versions.filter((v) => v.storage).map((v) => v.name), [expected[expected.length - 1]], `${kind}: the newest is the storage version`);
    for (const v of versions) assert.deepEqual(v.schema.openAPIV3Schema.properties.status, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  }
  // The fields another engineer's client-side routes build on.
  const rule = crdSchema(crds, POLICY_GROUP, 'HTTPRoute', 'v1beta3')!.properties as Json;
  const ruleProps = rule.spec.properties.rules.items.properties;
  assert.deepEqual(Object.keys(ruleProps).sort(), ['backendRefs', 'filters', 'matches', 'timeouts']);
  assert.ok(ruleProps.backendRefs.items.properties.weight, 'backendRefs carry weights');
});

test('the structural check is not vacuous: it names each kind of non-structural schema', () => {
  const bad: Schema = {
    type: 'object',
    required: ['spec', 'missing'],
    properties: {
      spec: { properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } },
      port: { 'x-kubernetes-int-or-string': true, type: 'string' },
      sel: { type: 'object', properties: { x: { type: 'string' } }, oneOf: [{ type: 'object', required: ['x'] }, { required: ['y'] }] },
      list: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } }, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
      keep: { 'x-kubernetes-preserve-unknown-fields': 'yes' },
    },
  };
  const problems = structuralProblems(bad).join('\n');
  for (const want of [
    '/: required "missing" is not a declared property',
    '/properties/spec: no type',
    '/properties/spec: both properties and additionalProperties',
    '/properties/port: x-kubernetes-int-or-string with a type',
    '/properties/sel/oneOf/0: type inside a value validation',
    '/properties/sel/oneOf/1: required "y" is not declared beside it',
    '/properties/list: list-map key "name" is not required in the items',
    '/properties/keep: x-kubernetes-preserve-unknown-fields is not a boolean',
  ]) {
    assert.ok(problems.includes(want), `missing: ${want}\nin:\n${problems}`);
  }
});

test('every default in the schemas validates against its own field', () => {
  let n = 0;
  const walk = (s: Schema, path: string) => {
    if (s.default !== undefined) {
      const { default: d, ...rest } = s;
      const v = ajv.compile(strict(rest));
      assert.ok(v(d), `${path}: default ${JSON.stringify(d)}: ${JSON.stringify(v.errors)}`);
      n++;
    }
    for (const [k, x] of Object.entries((s.properties as Record<string, Schema>) ?? {})) walk(x, `${path}/${k}`);
    if (s.items) walk(s.items as Schema, `${path}[]`);
  };
  for (const c of crds) for (const v of c.spec.versions) walk(v.schema.openAPIV3Schema, `${c.metadata.name} ${v.name}`);
  assert.ok(n >= 20, `only ${n} defaults seen`);
});

test("Linkerd's documented shapes read in Linnet's reader and validate against the CRD of their version", () => {
  const text = readFileSync(EXAMPLES, 'utf8');
  const objects = docs(text);
  // (a) The reader takes the whole file with no problem (it throws listing every problem otherwise).
  const read = parsePolicyDocuments(text, EXAMPLES);
  assert.equal(read.length, objects.length, 'every document read');
  // (b) Each validates against its version's schema, and every served kind and version has an example.
  const seen = new Set<string>();
  for (const o of objects) {
    assert.deepEqual(schemaErrors(o), [], `${o.kind} ${o.metadata.name} (${o.apiVersion})`);
    seen.add(`${o.apiVersion}/${o.kind}`);
  }
  for (const c of crds) for (const v of c.spec.versions) assert.ok(seen.has(`${POLICY_GROUP}/${v.name}/${c.spec.names.kind}`), `no example of ${c.spec.names.kind} ${v.name}`);
  // The shapes the task names are all among them.
  for (const needle of ['matchExpressions', 'port: grpc', 'identityRefs', 'except:', 'overrides:', 'backendRefs:', 'weight:', 'timeouts:', 'filters:', 'queryParams:', 'externalWorkloadSelector']) {
    assert.ok(text.includes(needle), `the examples lack ${needle}`);
  }
});

test("the API server's defaults change nothing the reader sees (files and Kubernetes read alike)", () => {
  // Kubernetes stores an object with its CRD's defaults filled in; the policy directory reads it as written.
  const filling = new Ajv({ useDefaults: true, strict: false });
  for (const f of ['int32', 'int64', 'duration']) filling.addFormat(f, true);
  // IpNet values hold bigints; undefined-valued keys are dropped (a default match has method: undefined).
  const norm = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))) as unknown;
  let changed = 0;
  for (const o of docs(readFileSync(EXAMPLES, 'utf8'))) {
    const [group, version] = String(o.apiVersion).split('/');
    const filled = structuredClone(o);
    assert.ok(filling.compile(crdSchema(crds, group!, o.kind, version!)!)(filled));
    if (JSON.stringify(filled) !== JSON.stringify(o)) changed++;
    assert.deepEqual(norm(parsePolicyResource(filled, 'stored')), norm(parsePolicyResource(o, 'file')), `${o.kind} ${o.metadata.name}`);
  }
  assert.ok(changed >= 5, `only ${changed} examples had a default filled in`);
});

/** A valid example, changed by `edit`; the schema must refuse it at `path`. */
function refused(kind: string, apiVersion: string, name: string, edit: (o: Json) => void, path: RegExp): string[] {
  const base = docs(readFileSync(EXAMPLES, 'utf8')).find((o) => o.kind === kind && o.apiVersion === apiVersion && o.metadata.name === name);
  assert.ok(base, `example ${kind} ${name}`);
  const o = structuredClone(base);
  assert.deepEqual(schemaErrors(o), [], 'the unedited example is valid');
  edit(o);
  const errors = schemaErrors(o);
  assert.ok(errors.some((e) => path.test(e)), `${kind} ${name}: expected a refusal matching ${path}, got ${JSON.stringify(errors)}`);
  return errors;
}

test('the schemas refuse malformed documents: wrong enum, missing required field, wrong type, unknown field', () => {
  // Wrong enum values.
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => (o.spec.proxyProtocol = 'HTTP/3'), /^\/spec\/proxyProtocol must be equal to one of the allowed values/);
  refused('Server', 'policy.linkerd.io/v1alpha1', 'emoji-grpc-v1alpha1', (o) => (o.spec.proxyProtocol = 'grpc'), /^\/spec\/proxyProtocol must be equal to one of/);
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => (o.spec.accessPolicy = 'allow'), /^\/spec\/accessPolicy must be equal to one of/);
  refused('Server', 'policy.linkerd.io/v1beta1', 'web-http-v1beta1', (o) => (o.spec.podSelector.matchExpressions[0].operator = 'Equals'), /^\/spec\/podSelector\/matchExpressions\/0\/operator must be equal to one of/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta3', 'web-probes', (o) => (o.spec.rules[0].matches[0].method = 'get'), /^\/spec\/rules\/0\/matches\/0\/method must be equal to one of/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta2', 'web-split-v1beta2', (o) => (o.spec.rules[1].filters[0].requestRedirect.statusCode = 307), /statusCode must be equal to one of/);
  // Missing required fields.
  refused('AuthorizationPolicy', 'policy.linkerd.io/v1alpha1', 'web-http-clients', (o) => delete o.spec.requiredAuthenticationRefs, /^\/spec must have required property 'requiredAuthenticationRefs'/);
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => delete o.spec.port, /^\/spec must have required property 'port'/);
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => delete o.spec.podSelector, /^\/spec must match exactly one schema in oneOf/);
  refused('NetworkAuthentication', 'policy.linkerd.io/v1alpha1', 'cluster-network', (o) => delete o.spec.networks[1].cidr, /^\/spec\/networks\/1 must have required property 'cidr'/);
  refused('HTTPLocalRateLimitPolicy', 'policy.linkerd.io/v1alpha1', 'web-rl', (o) => delete o.spec.overrides[0].clientRefs, /^\/spec\/overrides\/0 must have required property 'clientRefs'/);
  refused('MeshTLSAuthentication', 'policy.linkerd.io/v1alpha1', 'web-clients', (o) => (o.spec.identityRefs = [{ kind: 'ServiceAccount', name: 'x' }]), /^\/spec must match exactly one schema in oneOf/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta3', 'web-client-routes', (o) => delete o.spec.rules[0].backendRefs[0].name, /backendRefs\/0 must have required property 'name'/);
  // Wrong types and ranges.
  refused('HTTPLocalRateLimitPolicy', 'policy.linkerd.io/v1alpha1', 'web-rl', (o) => (o.spec.total.requestsPerSecond = 'lots'), /^\/spec\/total\/requestsPerSecond must be integer/);
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => (o.spec.port = { number: 8080 }), /^\/spec\/port must be (integer|string)/);
  refused('Server', 'policy.linkerd.io/v1beta3', 'web-http', (o) => (o.spec.podSelector.matchLabels.app = 7), /^\/spec\/podSelector\/matchLabels\/app must be string/);
  refused('NetworkAuthentication', 'policy.linkerd.io/v1alpha1', 'cluster-network', (o) => (o.spec.networks[0].except = '10.96.0.0/12'), /^\/spec\/networks\/0\/except must be array/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta3', 'web-client-routes', (o) => (o.spec.rules[0].backendRefs[0].weight = -1), /weight must be >= 0/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta3', 'web-client-routes', (o) => (o.spec.rules[0].timeouts.request = '10 seconds'), /timeouts\/request must match format "duration"/);
  // Unknown fields (the API server's strict field validation): a field of a later version, and a typo.
  refused('Server', 'policy.linkerd.io/v1beta2', 'redis-v1beta2', (o) => (o.spec.accessPolicy = 'deny'), /^\/spec must NOT have additional properties \(accessPolicy\)/);
  refused('HTTPRoute', 'policy.linkerd.io/v1beta2', 'web-split-v1beta2', (o) => (o.spec.rules[0].timeouts = { request: '1s' }), /^\/spec\/rules\/0 must NOT have additional properties \(timeouts\)/);
  refused('AuthorizationPolicy', 'policy.linkerd.io/v1alpha1', 'web-http-clients', (o) => (o.spec.targetRef.nmae = 'x'), /additional properties \(nmae\)/);
});

test('where the reader refuses a value the schema checks too, both refuse it', () => {
  const base = docs(readFileSync(EXAMPLES, 'utf8')).find((o) => o.metadata.name === 'web-http')!;
  for (const [field, value] of [['proxyProtocol', 'HTTP/3'], ['accessPolicy', 'allow']] as const) {
    const o = structuredClone(base);
    o.spec[field] = value;
    assert.ok(schemaErrors(o).length > 0, `schema refuses ${field}: ${value}`);
    assert.throws(() => parsePolicyResource(o, 'doc'), (e: unknown) => e instanceof PolicyResourceError && e.problems.some((p) => p.startsWith(`spec.${field}:`)));
  }
});

test('the strict field check knows the CRD fields kubernetes-models never reads, and still catches a misspelt one', () => {
  const c = structuredClone(crds[0]!);
  assert.deepEqual(describeProblems(c, validateObject(c)), []);
  c.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.port.descriptoin = 'typo';
  c.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.proxyProtocol['x-kubernetes-int-or-strnig'] = true;
  const problems = describeProblems(c, validateObject(c)).join('\n');
  assert.match(problems, /\/port\/descriptoin: unknown field "descriptoin"/);
  assert.match(problems, /\/proxyProtocol\/x-kubernetes-int-or-strnig: unknown field/);
});

test('a reader-checked enum is accepted by the schema exactly when the reader accepts it (property)', () => {
  const base = docs(readFileSync(EXAMPLES, 'utf8')).find((o) => o.metadata.name === 'voting-grpc')!;
  const cases: [string, (o: Json, v: string) => void, string[]][] = [
    ['proxyProtocol', (o, v) => (o.spec.proxyProtocol = v), ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS', 'http/1', 'grpc', 'HTTP/3', '']],
    ['accessPolicy', (o, v) => (o.spec.accessPolicy = v), ['deny', 'audit', 'all-authenticated', 'all-unauthenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'Deny', 'allow']],
    ['operator', (o, v) => (o.spec.podSelector.matchExpressions[0].operator = v), ['In', 'NotIn', 'Exists', 'DoesNotExist', 'in', 'Equals']],
  ];
  for (const [what, set, known] of cases) {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 })), (v) => {
        const o = structuredClone(base);
        set(o, v);
        if (what === 'operator' && (v === 'Exists' || v === 'DoesNotExist')) delete o.spec.podSelector.matchExpressions[0].values;
        let reader = true;
        try {
          parsePolicyResource(o, 'doc');
        } catch (e) {
          if (!(e instanceof PolicyResourceError)) throw e;
          reader = false;
        }
        assert.equal(schemaErrors(o).length === 0, reader, `${what}: ${JSON.stringify(v)}`);
      }),
      { numRuns: 300 },
    );
  }
});

test('linnet check --manifests takes the printed CRDs as schema-valid', () => {
  const r = spawnSync(process.execPath, [BIN, 'check', '--manifests', '-'], { input: linnet(['install', '--crds']).stdout, encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/nonexistent' } });
  assert.match(r.stdout, /√ all 6 object\(s\) pass the Kubernetes schema \(strict fields\)/, r.stdout);
});

test('linnet install --crds prints only the policy CRDs, each valid, the same bytes every time', () => {
  const r = linnet(['install', '--crds']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const objs = docs(r.stdout);
  assert.deepEqual(objs.map((o) => `${o.apiVersion} ${o.kind}`), Array(6).fill('apiextensions.k8s.io/v1 CustomResourceDefinition'));
  assert.deepEqual(objs.map((o) => o.metadata.name).sort(), [
    'authorizationpolicies.policy.linkerd.io',
    'httplocalratelimitpolicies.policy.linkerd.io',
    'httproutes.policy.linkerd.io',
    'meshtlsauthentications.policy.linkerd.io',
    'networkauthentications.policy.linkerd.io',
    'servers.policy.linkerd.io',
  ]);
  for (const o of objs) {
    assert.deepEqual(describeProblems(o, validateObject(o)), [], o.metadata.name);
    assert.deepEqual(crdProblems(o), [], o.metadata.name);
  }
  assert.doesNotMatch(r.stdout, /^\s*[^#\n]*[&*]a\d/m, 'no YAML anchors or aliases');
  assert.equal(linnet(['install', '--crds']).stdout, r.stdout, 'two renders differ');
  const json = linnet(['install', '--crds', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).items, objs, 'JSON and YAML print the same objects');
});

test('linnet install --crds refuses the control-plane flags that do not apply to it, naming them', () => {
  const one = linnet(['install', '--crds', '--namespace', 'mesh']);
  assert.equal(one.code, 2);
  assert.equal(one.stdout, '', 'nothing printed');
  assert.match(one.stderr, /--crds prints only the policy CRDs; --namespace does not apply to it/);
  const two = linnet(['install', '--identity-external-issuer', '--crds', '--replicas', '3']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /--identity-external-issuer, --replicas do not apply to it/);
  const dip = linnet(['install', '--crds', '--default-inbound-policy=deny']);
  assert.equal(dip.code, 2);
  assert.match(dip.stderr, /--default-inbound-policy does not apply/);
});

test('linnet install without --crds prints no CRD, and its help says where the Gateway API CRDs come from', () => {
  const r = linnet(['install']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!docs(r.stdout).some((o) => o.kind === 'CustomResourceDefinition'));
  const help = linnet(['install', '--help']);
  assert.match(help.stdout + help.stderr, /--crds/);
  assert.match(help.stdout + help.stderr, /standard-install/);
});

test("identityRefs need a kind, not a name, in the CRD as in Linkerd's and in the reader; no policy.linkerd.io/v1 HTTPRoute in either", () => {
  const o: Json = { apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication', metadata: { name: 'every-sa', namespace: 'demo' }, spec: { identityRefs: [{ kind: 'ServiceAccount' }, { kind: 'Namespace', name: 'other' }] } };
  assert.deepEqual(schemaErrors(o), []);
  assert.equal(parsePolicyResource(o, 'x').kind, 'MeshTLSAuthentication');
  const noKind = structuredClone(o);
  noKind.spec.identityRefs = [{ name: 'web' }];
  assert.ok(schemaErrors(noKind).some((e) => /must have required property 'kind'/.test(e)), JSON.stringify(schemaErrors(noKind)));
  assert.throws(() => parsePolicyResource(noKind, 'x'), (e: unknown) => e instanceof PolicyResourceError && e.problems.some((p) => /identityRefs\[0\]\.kind: required/.test(p)));
  const route = crds.find((c) => c.spec.names.kind === 'HTTPRoute')!;
  assert.ok(!(route.spec.versions as Json[]).some((v) => v.name === 'v1'));
  assert.throws(() => parsePolicyResource({ apiVersion: 'policy.linkerd.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { parentRefs: [{ name: 's', kind: 'Server', group: 'policy.linkerd.io' }] } }, 'x'), /is not served for HTTPRoute/);
});
