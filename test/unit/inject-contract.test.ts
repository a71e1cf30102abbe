/**
 * The contract between what the injector and install render and what the other parts accept: the
 * init container's args are run through the real `linnet init --dry-run`; the proxy container's
 * env, expanded as the kubelet would, is parsed by the proxy's own config, identity and discovery
 * parsers; the control Deployment's args by `linnet control`'s parser.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadProxyConfig } from '../../proxy/runtime/config';
import { parseDiscoveryEnv } from '../../proxy/runtime/config/discovery';
import { parseIdentityEnv } from '../../proxy/runtime/config/identity';
import { parseControlArgs } from '../../control/control-command';
import { installManifests } from '../../control/install/manifests';
import { INIT_CONTAINER, PROXY_CONTAINER } from '../../control/inject/sidecar';
import { POD_TEMPLATE_PATHS } from '../../control/inject/transform';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = join(__dirname, '..', '..', '..');
const GOLDEN = join(ROOT, 'control', 'inject', 'testdata', 'golden');

function proxyIn(spec: Json): Json | undefined {
  return [...spec.containers, ...(spec.initContainers ?? [])].find((c: Json) => c.name === PROXY_CONTAINER);
}

function injectedPodSpecs(): { name: string; spec: Json; meta: Json }[] {
  const out: { name: string; spec: Json; meta: Json }[] = [];
  for (const f of readdirSync(GOLDEN).filter((x) => x.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(join(GOLDEN, f), 'utf8'))) {
      const o = d.toJS() as Json | null;
      for (const obj of o?.kind === 'List' ? o.items : o ? [o] : []) {
        const path = POD_TEMPLATE_PATHS[obj.kind];
        if (!path) continue;
        let tpl: Json = obj;
        for (const k of path) tpl = tpl[k];
        // The classic form puts the proxy among the containers, the native form among the init containers.
        if (proxyIn(tpl.spec)) out.push({ name: `${f}: ${obj.kind} ${obj.metadata.name}`, spec: tpl.spec, meta: tpl.metadata ?? {} });
      }
    }
  }
  return out;
}

/** The env as the kubelet hands it to the process: fieldRefs resolved, $(VAR) expanded. */
function kubeletEnv(env: Json[], pod: { name: string; namespace: string; serviceAccount: string }): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace, 'spec.serviceAccountName': pod.serviceAccount };
  const out: Record<string, string> = {};
  for (const e of env) {
    const raw = e.valueFrom ? fields[e.valueFrom.fieldRef.fieldPath]! : String(e.value);
    out[e.name] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => out[v] ?? m);
  }
  return out;
}

const specs = injectedPodSpecs();

test('the golden files hold injected pods to check', () => {
  assert.ok(specs.length >= 15, `${specs.length} injected pod specs`);
});

test('every rendered init container is accepted by the real `linnet init --dry-run`', () => {
  const seen = new Set<string>();
  for (const { name, spec } of specs) {
    const init = spec.initContainers.find((c: Json) => c.name === INIT_CONTAINER);
    const key = init.args.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'linnet'), ...init.args, '--dry-run'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: linnet ${key} --dry-run: ${r.stderr}`);
    assert.match(r.stdout, /PROXY_INIT_REDIRECT/);
  }
  assert.ok(seen.size >= 4, 'several distinct flag sets were tried');
});

test('every rendered proxy env is accepted by the proxy\'s config, identity and discovery parsers', () => {
  for (const { name, spec } of specs) {
    const proxy = proxyIn(spec)!;
    const env = kubeletEnv(proxy.env, { name: 'web-5d8f-abcde', namespace: 'demo', serviceAccount: spec.serviceAccountName ?? 'default' });
    const cfg = loadProxyConfig(env);
    assert.ok(cfg.inboundOpaquePorts.size > 0, name);
    const id = parseIdentityEnv(env, () => assert.fail('no file reads expected'));
    assert.ok(id, `${name}: identity configured`);
    assert.match(id!.localName, /^[a-z0-9-]+\.demo\.serviceaccount\.identity\.linnet\.cluster\.local$/);
    assert.equal(id!.tokenFile, proxy.volumeMounts[0].mountPath + '/linnet-identity-token');
    assert.ok(parseDiscoveryEnv(env).destinationAddr, name);
  }
});

test('the control Deployment\'s args are accepted by `linnet control`', () => {
  for (const externalIssuer of [false, true]) {
    const objs = installManifests({
      namespace: 'mesh',
      trustDomain: 'example.org',
      version: '1.2.3',
      image: 'ghcr.io/linnet/proxy',
      identity: externalIssuer ? { anchorsPem: 'x', generated: false } : { generated: false },
      externalIssuer,
      controlReplicas: 1,
    });
    const control = objs.find((o) => o.kind === 'Deployment' && (o.metadata as Json).name === 'linnet-control') as Json;
    const args: string[] = control.spec.template.spec.containers[0].args;
    assert.equal(args[0], 'control');
    const opts = parseControlArgs(args.slice(1));
    assert.equal(opts.discovery, 'kubernetes');
    assert.equal(opts.identityStore, 'kubernetes', 'the identity lives in Secrets, read through the API');
    assert.equal(opts.externalIssuer, externalIssuer);
    assert.equal(opts.controlNamespace, 'mesh');
    assert.equal(opts.trustDomain, 'example.org');
  }
});
