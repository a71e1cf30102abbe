/**
 * Policy delivery end to end, without pods: `linnet control` as a real process with a mesh file
 * and a policy directory, the proxy's policy client (proxy/inbound/policy) over real gRPC. The
 * first answer, an edit within a second, a bad file refused with its path and the last good state
 * kept, and the proxy keeping its last policy when the control plane goes away.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/log';
import { decideRequest, DEFAULT_CLUSTER, type RequestView } from '../core/policy/model';
import { parseIp } from '../core/policy/net';
import { InboundPolicies } from '../proxy/inbound/policy/client';

const BIN = join(__dirname, '..', '..', 'bin', 'linnet');
const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const BOT = 'bot.demo.serviceaccount.identity.linnet.cluster.local';

const MESH = `services:
  - name: web.demo.svc.cluster.local
    ports: [80]
    endpoints:
      - address: 10.77.0.12:8080
        identity: ${WEB}
        labels: { app: web }
workloads: []
`;

const policy = (identity: string) => `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: web-http }
spec: { podSelector: { matchLabels: { app: web } }, port: 8080, proxyProtocol: HTTP/1 }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: demo, name: web-clients }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: web-http }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: clients }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { namespace: demo, name: clients }
spec: { identities: ["${identity}"] }
`;

function startControl(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'control', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`linnet control did not come up:\n${out}`)), 10_000);
    child.stderr!.on('data', () => {
      const m = /policy serving .*port=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, port: Number(m[1]), output: () => out });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`linnet control exited ${code}:\n${out}`));
    });
  });
}

const until = async (what: string, ms: number, f: () => boolean): Promise<number> => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
};

const req: RequestView = { method: 'GET', path: '/', query: '', host: 'web', header: () => undefined };
const allowed = (p: InboundPolicies, identity: string) => decideRequest(p.get(8080).policy, { ip: parseIp('10.77.0.1'), identity }, req, false).allowed;

describe('policy delivery: policy directory → linnet control → proxy', () => {
  let dir: string;
  let control: Awaited<ReturnType<typeof startControl>>;
  let client: InboundPolicies;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'linnet-policy-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH);
    const pdir = join(dir, 'policy');
    require('node:fs').mkdirSync(pdir);
    writeFileSync(join(pdir, 'web.yaml'), policy(WEB));
    control = await startControl(['--discovery-file', join(dir, 'mesh.yaml'), '--policy-dir', pdir, '--destination-addr', '127.0.0.1:0', '--policy-addr', '127.0.0.1:0', '--default-inbound-policy', 'all-unauthenticated']);
    client = new InboundPolicies({ addr: `127.0.0.1:${control.port}`, workload: '10.77.0.12', defaultPolicy: 'deny', clusterNetworks: DEFAULT_CLUSTER, ports: [8080] }, createLogger('error', 'test'));
  });
  after(() => {
    client?.close();
    control?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the default applies before the first answer, then the Server from the directory', async () => {
    await client.ready(8080, 5000);
    const p = client.get(8080);
    assert.equal(p.fromControlPlane, true);
    assert.deepEqual(p.policy.server, { kind: 'server', name: 'web-http' });
    assert.equal(p.policy.protocol, 'http1');
    assert.ok(allowed(client, WEB));
    assert.ok(!allowed(client, BOT));
    // A port no Server names: the install default the control plane was given, not the proxy's.
    await client.ready(9999, 5000);
    assert.deepEqual(client.get(9999).policy.server, { kind: 'default', name: 'all-unauthenticated' });
  });

  it('an edit reaches the proxy within a second', async () => {
    writeFileSync(join(dir, 'policy', 'web.yaml'), policy(BOT));
    const ms = await until('bot allowed', 1000, () => allowed(client, BOT));
    assert.ok(!allowed(client, WEB));
    process.stdout.write(`# edit applied in ${ms} ms\n`);
  });

  it('a bad file is refused with its path and the problem; the last good state stays', async () => {
    const before = client.get(8080).version;
    writeFileSync(join(dir, 'policy', 'web.yaml'), policy(BOT).replace('port: 8080', 'port: 80800'));
    await until('rejection logged', 3000, () => /policy file rejected/.test(control.output()));
    assert.match(control.output(), /web\.yaml[^\n]*is not a valid policy resource/);
    assert.match(control.output(), /document 1 \(Server web-http\): spec\.port: 80800 is not a port number/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.get(8080).version, before, 'no new policy was sent');
    assert.ok(allowed(client, BOT));
  });

  it('a port no control plane answers: one wait, then the default at once', async () => {
    const lonely = new InboundPolicies({ addr: '127.0.0.1:9', workload: 'x', defaultPolicy: 'deny', clusterNetworks: DEFAULT_CLUSTER, ports: [] }, createLogger('error', 'test'));
    try {
      let t0 = Date.now();
      assert.equal(await lonely.ready(8080, 200), false);
      assert.ok(Date.now() - t0 >= 190);
      t0 = Date.now();
      assert.equal(await lonely.ready(8080, 200), false);
      assert.ok(Date.now() - t0 < 50, 'no second wait');
      assert.deepEqual(lonely.get(8080).policy.server, { kind: 'default', name: 'deny' });
    } finally {
      lonely.close();
    }
  });

  it('the control plane gone: the proxy keeps the last policy', async () => {
    control.child.kill('SIGKILL');
    await new Promise((r) => control.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(client.get(8080).policy.server, { kind: 'server', name: 'web-http' });
    assert.ok(allowed(client, BOT));
    assert.ok(!allowed(client, WEB));
  });
});
