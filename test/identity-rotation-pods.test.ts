/**
 * The rotation proof in network-namespace pods, with lifetimes shortened by flags (issuer 15 s,
 * leaves 10 s): `linnet control` on an identity directory from `linnet identity create` (ca.key
 * there, so the issuer rotates itself), two meshed pods, and under load (one mTLS connection per
 * echo, one after another on 4 loops; HTTP/1.1 on keep-alive connections riding the proxies'
 * pooled HTTP/2 mTLS connection; one gRPC bidirectional stream held open throughout) the issuer rotates several times and
 * `linnet identity rotate-anchor` runs to the end. No request fails, no connection is reset, and
 * at the end every proxy trusts the new anchor only and holds a leaf chaining to it.
 * A shortened form of the issue's 10-minute proof (its runtime is a minute, not ten).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod, type PodProcess } from './pods';
import { eventually } from './pods/mesh';
import { DESTINATION_PORT, IDENTITY_PORT, makeMeshDir, meshProxyEnv } from './pods/mesh-control';
import { LINNET_BIN } from '../control/local/pods/pod';

const skip = meshSkipReason();
const APP = join(__dirname, 'mesh-app.js');
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const ECHO_ID = 'echo.demo.serviceaccount.identity.linnet.cluster.local';
const VIP = '10.96.0.10';
const PORT = 7000;
const HTTP_VIP = '10.96.0.20';
const HTTP_PORT = 8000;
const GRPC_VIP = '10.96.0.30';
const GRPC_PORT = 7500;
const GRPC_APP = join(__dirname, 'grpc-app.js');
const ADMIN = 9990;

interface Summary {
  event: string;
  ok: number;
  errors: number;
  errorCodes: Record<string, number>;
}

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
let server: Pod;
let controlProc: PodProcess;

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'echo']);
  // A first issuer as short as the ones the control plane will make itself.
  const { spawnSync } = await import('node:child_process');
  const c = spawnSync(process.execPath, [LINNET_BIN, 'identity', 'create', '--out', join(dir, 'ca'), '--issuer-lifetime', '15s', '--force'], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  server = await cluster.addPod('server');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: echo.demo.svc.cluster.local',
      `    address: ${VIP}`,
      `    ports: [${PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${PORT}`,
      `        identity: ${ECHO_ID}`,
      '  - name: web.demo.svc.cluster.local',
      `    address: ${HTTP_VIP}`,
      `    ports: [${HTTP_PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${HTTP_PORT}`,
      `        identity: ${ECHO_ID}`,
      '  - name: grpc.demo.svc.cluster.local',
      `    address: ${GRPC_VIP}`,
      `    ports: [${GRPC_PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${GRPC_PORT}`,
      `        identity: ${ECHO_ID}`,
      'workloads:',
      `  - identity: ${CLIENT_ID}`,
      '    token: "client-token"',
      `  - identity: ${ECHO_ID}`,
      '    token: "echo-token"',
      '',
    ].join('\n'),
  );
  controlProc = control.spawn(process.execPath, [
    LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--identity-dir', join(dir, 'ca'),
    '--destination-addr', `${control.ip}:${DESTINATION_PORT}`, '--identity-addr', `${control.ip}:${IDENTITY_PORT}`, '--admin-addr', `${control.ip}:${ADMIN}`,
    '--identity-issuer-lifetime', '15s', '--identity-issuance-lifetime', '10s', '--identity-poll', '500ms',
  ], { name: 'control' });
  await eventually(async () => {
    const r = await control.run('curl', ['-sf', `http://${control.ip}:${ADMIN}/live`], { timeoutMs: 2000 });
    assert.equal(r.code, 0);
  }, 15_000, 200);
  await Promise.all([client.init(), server.init()]);
  const env = (id: string, token: string) => meshProxyEnv(control, dir, id, token, { LINNET_PROXY_IDENTITY_MIN_REFRESH: '1s' });
  await Promise.all([client.startProxy(env(CLIENT_ID, 'client')), server.startProxy(env(ECHO_ID, 'echo'))]);
  for (const [cmd, port] of [['serve', PORT], ['http-serve', HTTP_PORT]] as const) {
    const p = server.spawn(process.execPath, [APP, cmd, '--port', String(port), '--name', 'server'], { uid: APP_UID, name: `${cmd}-${port}` });
    await p.waitForEvent((e) => e.event === 'listening');
  }
  const g = server.spawn(process.execPath, [GRPC_APP, 'serve', '--port', String(GRPC_PORT)], { uid: APP_UID, name: 'grpc-serve' });
  await g.waitForEvent((e) => e.event === 'listening');
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fp = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

test('issuer rotations and a full rotate-anchor under load lose nothing; every proxy ends on the new anchor only', { skip }, logsOnFailure(() => cluster, async () => {
  const oldAnchor = fp(readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'));
  const issuerSerials = new Set<string>();
  const watchIssuer = setInterval(() => {
    try {
      issuerSerials.add(new X509Certificate(readFileSync(join(dir, 'ca', 'issuer.crt'))).serialNumber);
    } catch {
      /* mid-rename */
    }
  }, 200);
  const t0 = Date.now();
  const load = client.spawn(process.execPath, [APP, 'load', '--to', `${VIP}:${PORT}`, '--concurrency', '4', '--duration-ms', '75000'], { uid: APP_UID, name: 'load' });
  // One gRPC bidirectional stream held open across every rotation: 3000 ping-pongs 20 ms apart.
  const grpcStream = client.spawn(process.execPath, [GRPC_APP, 'call', '--to', `${GRPC_VIP}:${GRPC_PORT}`, '--scenario', 'bidi', '--count', '3000', '--pace-ms', '20'], { uid: APP_UID, name: 'grpc-bidi' });
  const http = client.spawn(process.execPath, [APP, 'http-load', '--to', `${HTTP_VIP}:${HTTP_PORT}`, '--concurrency', '4', '--requests', '100000000', '--for-ms', '75000'], { uid: APP_UID, name: 'http-load' });
  try {
    // Two issuer rotations first (15 s issuers rotate every ~10 s).
    await sleep(22_000);
    const rot = await control.run(process.execPath, [LINNET_BIN, 'identity', 'rotate-anchor', '--identity-dir', join(dir, 'ca'), '--control', `${control.ip}:${ADMIN}`, '--poll', '500ms', '--timeout', '3m'], { timeoutMs: 200_000 });
    process.stderr.write(`rotate-anchor (${Math.round((Date.now() - t0) / 1000)} s into the load):\n${rot.stdout}${rot.stderr}`);
    assert.equal(rot.code, 0, rot.stdout + rot.stderr);
    assert.match(rot.stdout, /rotation finished/);
    const s = await load.waitForEvent<Summary>((e) => e.event === 'summary', 120_000);
    const h = await http.waitForEvent<Summary>((e) => e.event === 'summary', 120_000);
    const g = await grpcStream.waitForEvent<{ event: string; count?: number; mismatches?: number; error?: unknown }>((e) => e.event === 'result' || e.event === 'failed', 120_000);
    clearInterval(watchIssuer);
    process.stderr.write(`grpc bidi: ${JSON.stringify(g)}\n`);
    assert.equal(g.event, 'result', JSON.stringify(g));
    assert.equal(g.error, undefined, JSON.stringify(g));
    assert.equal(g.count, 3000, 'the one stream carried every message across the rotations');
    assert.equal(g.mismatches, 0);
    process.stderr.write(`load: ${JSON.stringify(s)}; http: ${JSON.stringify(h)}; issuers seen: ${issuerSerials.size}; ${Math.round((Date.now() - t0) / 1000)} s\n`);
    assert.equal(s.errors, 0, JSON.stringify(s));
    assert.equal(h.errors, 0, JSON.stringify(h));
    assert.ok(s.ok > 1000, JSON.stringify(s));
    assert.ok(h.ok > 1000, JSON.stringify(h));
    assert.equal((h as Summary & { connections: number }).connections, 4, 'the keep-alive connections lasted through every rotation (none reset, none replaced)');
    assert.ok(issuerSerials.size >= 4, `issuers seen: ${issuerSerials.size} (two rotations, one under the new anchor, and on)`);

    // The new anchor only, everywhere: the bundle, every proxy's anchors, every leaf's anchor.
    const newAnchor = fp(readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'));
    assert.notEqual(newAnchor, oldAnchor);
    assert.equal((readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    await sleep(8_000); // one more renewal each
    const view = JSON.parse((await control.run('curl', ['-sf', `http://${control.ip}:${ADMIN}/identity/proxies`])).stdout) as { proxies: { identity: string; anchors: string[]; issuerAnchor: string }[] };
    for (const id of [CLIENT_ID, ECHO_ID]) {
      const mine = view.proxies.filter((p) => p.identity === id);
      assert.ok(mine.length >= 1, `${id} is known to the control plane`);
      for (const p of mine) {
        assert.deepEqual(p.anchors, [newAnchor], `${id} was given the new anchor only`);
        assert.equal(p.issuerAnchor, newAnchor, `${id}'s leaf chains to the new anchor`);
      }
    }
    for (const pod of [client, server]) {
      const m = await pod.metrics();
      const anchors = m.filter((x) => x.name === 'identity_trust_anchor_expiration_timestamp_seconds');
      assert.deepEqual(anchors.map((x) => x.labels['sha256']), [newAnchor.slice(0, 16)], `${pod.name} trusts the new anchor only`);
      assert.ok(sum(m, 'identity_cert_refresh_total', { result: 'ok' }) >= 5, `${pod.name} renewed its leaf`);
    }
  } finally {
    clearInterval(watchIssuer);
    void controlProc;
  }
}));
