/**
 * The control plane for mesh tests in pods: a directory with a CA from `linnet identity create`
 * and one token file per workload, `linnet control` in its own pod serving a mesh file from that
 * directory, and the proxy environment that certifies against it and discovers through it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodProcess } from '../../control/local/pods/exec';
import { eventually } from './mesh';
import { LINNET_BIN, type Pod } from '../../control/local/pods/pod';

export const DESTINATION_PORT = 8086;
export const IDENTITY_PORT = 8080;

/** A fresh directory (readable by the proxy uid) with `ca/` and a `<name>-token` file per name. */
export function makeMeshDir(tokenNames: readonly string[], prefix = 'linnet-mesh-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const r = spawnSync(process.execPath, [LINNET_BIN, 'identity', 'create', '--out', join(dir, 'ca')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  chmodSync(join(dir, 'ca'), 0o755);
  chmodSync(join(dir, 'ca', 'ca.crt'), 0o644);
  for (const n of tokenNames) writeFileSync(join(dir, `${n}-token`), `${n}-token\n`, { mode: 0o644 });
  return dir;
}

export const POLICY_PORT = 8090;
/** The viz API, on the control pod's loopback. */
export const VIZ_PORT = 8085;

export interface MeshControlOptions {
  /** Serves policy (inbound and outbound) from this directory on POLICY_PORT. */
  policyDir?: string;
  /** Scrapes the proxies every second for viz, whose API must be up too. */
  viz?: boolean;
  /** More `linnet control` arguments. */
  args?: readonly string[];
  name?: string;
  readyMs?: number;
}

/**
 * Starts `linnet control` on `pod` with `dir/mesh.yaml` and `dir/ca` (and what `opts` adds);
 * resolves once every port it serves accepts.
 */
export async function startMeshControl(pod: Pod, dir: string, opts: MeshControlOptions = {}): Promise<PodProcess> {
  const args = [
    LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--identity-dir', join(dir, 'ca'),
    '--destination-addr', `${pod.ip}:${DESTINATION_PORT}`, '--identity-addr', `${pod.ip}:${IDENTITY_PORT}`,
  ];
  const ports: [string, number][] = [[pod.ip, DESTINATION_PORT], [pod.ip, IDENTITY_PORT]];
  if (opts.policyDir) {
    args.push('--policy-dir', opts.policyDir, '--policy-addr', `${pod.ip}:${POLICY_PORT}`);
    ports.push([pod.ip, POLICY_PORT]);
  }
  if (opts.viz) {
    args.push('--viz-scrape-interval', '1s');
    ports.push(['127.0.0.1', VIZ_PORT]);
  }
  args.push(...(opts.args ?? []));
  const p = pod.spawn(process.execPath, args, { name: opts.name ?? 'control' });
  await eventually(async () => {
    for (const [host, port] of ports) {
      const r = await pod.run('bash', ['-c', `exec 3<>/dev/tcp/${host}/${port}`], { timeoutMs: 2000 });
      assert.equal(r.code, 0, `control not listening on ${host}:${port} yet`);
    }
  }, opts.readyMs ?? 15_000, 200);
  return p;
}

/** The mesh file's `workloads:` section: each [identity, token name] with the token makeMeshDir wrote. */
export function workloadLines(workloads: readonly (readonly [string, string])[]): string[] {
  return ['workloads:', ...workloads.flatMap(([id, t]) => [`  - identity: ${id}`, `    token: "${t}-token"`])];
}

/** The proxy environment of a workload `id` whose token is `dir/<token>-token`. */
export function meshProxyEnv(control: Pod, dir: string, id: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LINNET_PROXY_IDENTITY_SVC_ADDR: `${control.ip}:${IDENTITY_PORT}`,
    LINNET_PROXY_IDENTITY_LOCAL_NAME: id,
    LINNET_PROXY_IDENTITY_TOKEN_FILE: join(dir, `${token}-token`),
    LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(dir, 'ca', 'ca.crt'),
    LINNET_PROXY_DESTINATION_SVC_ADDR: `${control.ip}:${DESTINATION_PORT}`,
    ...extra,
  };
}
