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

/** Starts `linnet control` on `pod` with `dir/mesh.yaml` and `dir/ca`; resolves once both ports accept. */
export async function startMeshControl(pod: Pod, dir: string): Promise<PodProcess> {
  const p = pod.spawn(process.execPath, [
    LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--identity-dir', join(dir, 'ca'),
    '--destination-addr', `${pod.ip}:${DESTINATION_PORT}`, '--identity-addr', `${pod.ip}:${IDENTITY_PORT}`,
  ], { name: 'control' });
  await eventually(async () => {
    for (const port of [DESTINATION_PORT, IDENTITY_PORT]) {
      const r = await pod.run('bash', ['-c', `exec 3<>/dev/tcp/${pod.ip}/${port}`], { timeoutMs: 2000 });
      assert.equal(r.code, 0, `control not listening on ${port} yet`);
    }
  }, 15_000, 200);
  return p;
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
