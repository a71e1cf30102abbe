/**
 * Fuzz target for the pod-spec transform (control/inject/transform.ts). One input is a YAML (or
 * JSON) manifest, one or more documents, List items included; text that is not YAML is skipped
 * (the YAML parser is not under test). Each workload object is injected as `linnet inject
 * --manual` would, with trust anchors, and then checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { INIT_CONTAINER, PROXY_CONTAINER } from '../../control/inject/sidecar';
import { injectObject, isObject, POD_TEMPLATE_PATHS, uninjectObject, type Json, type Result } from '../../control/inject/transform';
import { parseInitArgs } from '../../init/options';
import { loadProxyConfig } from '../../proxy/runtime/config';
import { repoRoot } from '../corpus';
import { refusalOrValue, violations, type Fail } from '../target';

export const name = 'inject-transform';
export const properties = [
  'typed-errors: injectObject and uninjectObject return or throw InjectError (bad annotation / bad manifest)',
  'idempotent: injecting an injected object changes nothing',
  'uninject-restores: uninject(inject(x)) equals x for objects that carry none of our names',
  'init-contract: the rendered init container args are accepted by linnet init\'s flag parser',
  'proxy-contract: the rendered proxy env, expanded as the kubelet does, is accepted by the proxy config parser',
  'input-untouched: the input object is not modified',
];
const fail: Fail = violations(name);
const CODES = ['LINNET_INJECT_BAD_ANNOTATION', 'LINNET_INJECT_BAD_MANIFEST'];

let anchors: string | undefined;
function trustAnchors(): string {
  return (anchors ??= readFileSync(join(repoRoot(), 'control', 'inject', 'testdata', 'trust-anchors.pem'), 'utf8'));
}

/** Objects from a manifest text: YAML documents, List items expanded. */
export function objectsOf(input: Buffer): Json[] {
  const text = input.toString('utf8');
  const out: Json[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text, { keepSourceTokens: false, uniqueKeys: true });
  } catch {
    return out;
  }
  for (const d of Array.isArray(docs) ? docs : []) {
    if (d.errors.length) continue;
    let v: unknown;
    try {
      v = d.toJS({ maxAliasCount: 100 });
    } catch {
      continue;
    }
    if (!isObject(v)) continue;
    if (v.kind === 'List' && Array.isArray(v.items)) out.push(...v.items.filter(isObject));
    else out.push(v);
  }
  return out;
}

function podSpec(obj: Json): Json | undefined {
  let node: unknown = obj;
  for (const k of POD_TEMPLATE_PATHS[String(obj.kind)] ?? []) node = isObject(node) ? node[k] : undefined;
  return isObject(node) && isObject(node.spec) ? node.spec : undefined;
}

/** The env as the kubelet hands it to the process: fieldRefs resolved, $(VAR) expanded. */
function kubeletEnv(env: Json[]): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': 'web-5d8f-abcde', 'metadata.namespace': 'demo', 'spec.serviceAccountName': 'web' };
  const out: Record<string, string> = {};
  for (const e of env) {
    const ref = isObject(e.valueFrom) && isObject(e.valueFrom.fieldRef) ? String(e.valueFrom.fieldRef.fieldPath) : undefined;
    const raw = ref !== undefined ? (fields[ref] ?? '') : String(e.value);
    out[String(e.name)] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => out[v] ?? m);
  }
  return out;
}

/**
 * The object as Kubernetes reads it: null-valued keys are unset, and so are maps left empty
 * (uninject removes the maps it empties, documented in transform.ts).
 */
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const c = canon(x);
    if (c === null || c === undefined || (isObject(c) && Object.keys(c).length === 0)) continue;
    out[k] = c;
  }
  return out;
}

export function run(input: Buffer): void {
  for (const obj of objectsOf(input)) {
    const before = JSON.stringify(obj);
    const r = refusalOrValue(fail, 'injectObject', CODES, () => injectObject(obj, { manual: true, trustAnchorsPem: trustAnchors(), createdBy: 'linnet/fuzz' }));
    if (JSON.stringify(obj) !== before) fail('input-untouched', 'injectObject modified its input');
    if (!r.ok) continue;
    const res: Result = r.value;
    if (!res.changed) continue;

    const again = refusalOrValue(fail, 'injectObject (again)', CODES, () => injectObject(res.object, { manual: true, trustAnchorsPem: trustAnchors(), createdBy: 'linnet/fuzz' }));
    if (!again.ok) fail('idempotent', `second inject refused: ${again.error.message}`);
    if (again.value.changed) fail('idempotent', `second inject changed the object (${again.value.report.status})`);

    if (String(obj.kind) in POD_TEMPLATE_PATHS && !/linnet|linkerd/i.test(before)) {
      const un = refusalOrValue(fail, 'uninjectObject', CODES, () => uninjectObject(res.object));
      if (!un.ok) fail('uninject-restores', `uninject refused: ${un.error.message}`);
      if (!isDeepStrictEqual(canon(un.value.object), canon(obj))) {
        fail('uninject-restores', `uninject(inject(x)) != x\n x: ${before.slice(0, 400)}\n got: ${JSON.stringify(un.value.object).slice(0, 400)}`);
      }
    }

    const spec = String(obj.kind) in POD_TEMPLATE_PATHS ? podSpec(res.object) : undefined;
    if (!spec || !Array.isArray(spec.containers)) continue;
    const init = (spec.initContainers as Json[] | undefined)?.find((c) => c.name === INIT_CONTAINER);
    if (init && Array.isArray(init.args)) {
      const args = (init.args as unknown[]).map(String);
      const flags = args[0] === 'init' ? args.slice(1) : args;
      const p = refusalOrValue(fail, 'parseInitArgs', ['LINNET_CONFIG_INVALID', 'LINNET_INIT_USAGE'], () => parseInitArgs(flags));
      if (!p.ok) fail('init-contract', `linnet init refuses the rendered args ${JSON.stringify(args)}: ${p.error.message}`);
    }
    const proxy = (spec.containers as Json[]).find((c) => c.name === PROXY_CONTAINER);
    if (proxy && Array.isArray(proxy.env)) {
      const env = kubeletEnv((proxy.env as unknown[]).filter(isObject));
      const p = refusalOrValue(fail, 'loadProxyConfig', ['LINNET_CONFIG_INVALID'], () => loadProxyConfig(env));
      if (!p.ok) fail('proxy-contract', `the proxy refuses its rendered env: ${p.error.message}`);
    }
  }
}

export const dictionary = [
  'linnet.io/inject: enabled\n', 'linkerd.io/inject: ingress\n', 'config.linnet.io/skip-inbound-ports: ', 'config.linnet.io/skip-outbound-ports: ',
  'config.linnet.io/opaque-ports: ', 'config.linnet.io/skip-subnets: ', 'config.linnet.io/proxy-log-level: ', 'config.linnet.io/proxy-workers: ',
  'config.linnet.io/proxy-detect-timeout: ', 'config.linkerd.io/skip-inbound-ports: ', 'annotations:\n', 'containers:\n', 'initContainers: ',
  'volumes: ', 'ports:\n', '- containerPort: ', 'name: ', 'hostNetwork: true', 'kind: ', 'Deployment', 'CronJob', 'Pod', 'List', 'items:',
  'null', '~', '[]', '{}', '"', "'", '&a ', '*a', '<<: ', '---\n', '  ', '- ', ': ', '10.0.0.0/8', '::/0', '8080-8090', 'mysql', '0', '65536',
];

const target = { name, properties, run, dictionary, maxInputBytes: 16 * 1024 };
export default target;
