/**
 * `linnet control` as a real process: it starts from a mesh file and an identity directory made
 * by `linnet identity create`, serves Destination (read by the proxy's discovery client) and
 * Identity (Certify with the mesh file's workload tokens, which follow edits of the file), refuses
 * bad flags and bad files with a clear message, and exits 0 on SIGTERM with streams still open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { identityServiceConstructor, type CertifyResponseMsg, type IdentityClient } from '../core/api/identity';
import { createDiscoveryClient } from '../proxy/outbound/discovery';
import { startFakeKubeApi } from './fake-kube-api';

const BIN = join(__dirname, '..', '..', 'bin', 'linnet');
const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const DB = 'db.demo.serviceaccount.identity.linnet.cluster.local';

const mesh = (workloads: string) => `services:
  - name: web.demo.svc.cluster.local
    ports: [80]
    endpoints:
      - address: 10.77.0.12:8080
        identity: ${WEB}
workloads:
${workloads}`;

function csrFor(dir: string, identity: string): Buffer {
  const key = join(dir, `${identity}.key`);
  const csr = join(dir, `${identity}.csr`);
  spawnSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], { stdio: 'ignore' });
  const r = spawnSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${identity}`, '-addext', `subjectAltName=DNS:${identity}`, '-outform', 'DER', '-out', csr]);
  assert.equal(r.status, 0, `openssl req: ${r.stderr}`);
  return readFileSync(csr);
}

function certify(client: IdentityClient, identity: string, token: string, csr: Buffer): Promise<{ err: grpc.ServiceError | null; res?: CertifyResponseMsg }> {
  return new Promise((ok) =>
    client.Certify({ identity, token: Buffer.from(token), certificate_signing_request: csr }, { deadline: Date.now() + 5000 }, (err, res) =>
      ok({ err, ...(res ? { res } : {}) }),
    ),
  );
}

/** Starts `linnet control`; resolves with the child and the ports from its log. */
function startControl(args: string[]): Promise<{ child: ChildProcess; ports: Record<string, number>; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'control', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`linnet control did not come up:\n${out}`)), 10_000);
    const check = () => {
      const dst = /destination serving .*port=(\d+)/.exec(out);
      const id = /identity serving .*port=(\d+)/.exec(out);
      const wantIdentity = args.includes('--identity-dir');
      if (dst && (!wantIdentity || id)) {
        clearTimeout(timer);
        ok({ child, ports: { destination: Number(dst[1]), ...(id ? { identity: Number(id[1]) } : {}) }, output: () => out });
      }
    };
    child.stderr!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`linnet control exited ${code}:\n${out}`));
    });
  });
}

function exitOf(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((ok, fail) => {
    if (child.exitCode !== null) return ok(child.exitCode);
    const t = setTimeout(() => fail(new Error(`no exit within ${ms} ms`)), ms);
    child.on('exit', (code) => {
      clearTimeout(t);
      ok(code);
    });
  });
}

describe('linnet control', () => {
  let dir: string;
  let file: string;
  const children: ChildProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'linnet-control-'));
    file = join(dir, 'mesh.yaml');
    writeFileSync(file, mesh(`  - identity: ${WEB}\n    token: "web-token-123"\n`));
    const r = spawnSync(process.execPath, [BIN, 'identity', 'create', '--out', join(dir, 'id')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `identity create: ${r.stderr}`);
  });

  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help describes the flags', () => {
    const r = spawnSync(process.execPath, [BIN, 'control', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const flag of ['--discovery-file', '--identity-dir', '--discovery kubernetes', '--destination-addr', '--identity-addr']) assert.ok(r.stdout.includes(flag), flag);
  });

  it('refuses bad flags and a bad mesh file with a message naming the problem', () => {
    const bogus = spawnSync(process.execPath, [BIN, 'control', '--discovery', 'dns'], { encoding: 'utf8' });
    assert.equal(bogus.status, 1);
    assert.match(bogus.stderr, /LINNET_CONTROL_USAGE: --discovery must be file or kubernetes/);
    const missing = spawnSync(process.execPath, [BIN, 'control'], { encoding: 'utf8' });
    assert.match(missing.stderr, /--discovery-file FILE is required/);
    const badFile = join(dir, 'bad.yaml');
    writeFileSync(badFile, 'services:\n  - name: web\n    endpoints:\n      - address: nowhere\n');
    const bad = spawnSync(process.execPath, [BIN, 'control', '--discovery-file', badFile, '--destination-addr', '127.0.0.1:0'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /LINNET_MESH_FILE_INVALID/);
    assert.match(bad.stderr, /services\[0\]\.endpoints\[0\]\.address: "nowhere"/);
  });

  it('serves destination and identity, follows workload edits, and exits 0 on SIGTERM', async () => {
    const { child, ports, output } = await startControl([
      '--discovery-file', file,
      '--identity-dir', join(dir, 'id'),
      '--destination-addr', '127.0.0.1:0',
      '--identity-addr', '127.0.0.1:0',
    ]);
    children.push(child);

    // Destination, through the proxy's client.
    const discovery = createDiscoveryClient({ addr: `127.0.0.1:${ports['destination']}` });
    const set = discovery.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    assert.equal(await set.ready(3000), true);
    assert.deepEqual(set.endpoints().map((e) => [e.address, e.identity]), [['10.77.0.12:8080', WEB]]);

    // Identity: the mesh file's token proves WEB; a wrong one is refused.
    const Identity = identityServiceConstructor();
    const id = new Identity(`127.0.0.1:${ports['identity']}`, grpc.credentials.createInsecure()) as unknown as IdentityClient;
    try {
      const good = await certify(id, WEB, 'web-token-123', csrFor(dir, WEB));
      assert.equal(good.err, null, String(good.err?.details));
      const leaf = join(dir, 'leaf.der');
      writeFileSync(leaf, good.res!.leaf_certificate);
      const san = spawnSync('openssl', ['x509', '-inform', 'DER', '-in', leaf, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      assert.match(san.stdout, new RegExp(`DNS:${WEB.replace(/\./g, '\\.')}`));
      const wrong = await certify(id, WEB, 'not-the-token', csrFor(dir, WEB));
      assert.equal(wrong.err?.code, grpc.status.UNAUTHENTICATED);
      const dbBefore = await certify(id, DB, 'db-token-4567', csrFor(dir, DB));
      assert.equal(dbBefore.err?.code, grpc.status.UNAUTHENTICATED);

      // Adding a workload to the file lets it certify without a restart.
      writeFileSync(file, mesh(`  - identity: ${WEB}\n    token: "web-token-123"\n  - identity: ${DB}\n    token: "db-token-4567"\n`));
      const deadline = Date.now() + 2000;
      let dbAfter = await certify(id, DB, 'db-token-4567', csrFor(dir, DB));
      while (dbAfter.err && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        dbAfter = await certify(id, DB, 'db-token-4567', csrFor(dir, DB));
      }
      assert.equal(dbAfter.err, null, String(dbAfter.err?.details));
    } finally {
      id.close();
    }

    // SIGTERM with a discovery stream still open: a clean, prompt exit.
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exitOf(child, 5000);
    assert.equal(code, 0, output());
    assert.ok(Date.now() - t0 < 4000, 'stopped within the grace period');
    assert.match(output(), /stopping signal=SIGTERM/);
    // The client notices and keeps its last endpoints.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(set.endpoints().length, 1);
    set.release();
    discovery.close();
  });

  it('--discovery kubernetes serves what the API server lists', async () => {
    const api = await startFakeKubeApi();
    try {
      api.apply('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'prod' }, spec: { clusterIP: '10.96.1.1', ports: [{ port: 80 }] } });
      api.apply('endpointslices', {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'api-1', namespace: 'prod', labels: { 'kubernetes.io/service-name': 'api' } },
        addressType: 'IPv4',
        ports: [{ port: 8080 }],
        endpoints: [{ addresses: ['10.244.1.1'] }],
      });
      const { child, ports, output } = await startControl(['--discovery', 'kubernetes', '--kubeconfig', api.writeKubeconfig(dir), '--destination-addr', '127.0.0.1:0']);
      children.push(child);
      assert.match(output(), /discovery=kubernetes/);
      const discovery = createDiscoveryClient({ addr: `127.0.0.1:${ports['destination']}` });
      const set = discovery.resolve({ ip: '10.96.1.1', port: 80 });
      assert.equal(await set.ready(3000), true);
      assert.deepEqual(set.endpoints().map((e) => e.address), ['10.244.1.1:8080']);
      set.release();
      discovery.close();
      child.kill('SIGTERM');
      assert.equal(await exitOf(child, 5000), 0, output());
    } finally {
      await api.close();
    }
  });
});
