/**
 * The rotation proof in network-namespace pods: `linnet control` on an identity directory from
 * `linnet identity create` (ca.key there, so the issuer rotates itself), two meshed pods, and
 * under constant load the issuer rotates several times and `linnet identity rotate-anchor` runs to
 * the end, with the control plane killed and restarted in the middle of it and a third proxy
 * started during the overlap. No request fails, no connection is lost, and at the end every proxy
 * trusts the new anchor only and holds a leaf chaining to it.
 *
 * The load, all of it through both proxies over mTLS: HTTP/1.1, gRPC messages on one bidirectional
 * stream and Redis commands on one opaque connection, each at a constant rate (test/rate-app.ts),
 * on connections opened once; and new connections one after another on two loops (a handshake
 * against whatever anchors and leaves are current at that moment).
 *
 * Two sizes. By default (in `npm test`): 100 s at 200/s per kind, issuer 24 s, leaves 10 s.
 * `LINNET_ROTATION_PROOF=full node --test dist/test/identity-rotation-pods.test.js`: the issue's
 * form, 10 minutes at 500/s per kind, issuer 2 minutes, leaves 30 s (five issuer rotations or
 * more, and the anchor's rotation in the middle); run directly, since `npm test`'s runner stops a
 * file after 3 minutes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod, type PodProcess } from './pods';
import { eventually } from './pods/mesh';
import { DESTINATION_PORT, IDENTITY_PORT, makeMeshDir, meshProxyEnv } from './pods/mesh-control';
import { LINNET_BIN } from '../control/local/pods/pod';
import { killGroup } from '../control/local/pods/exec';

const FULL = process.env.LINNET_ROTATION_PROOF === 'full';
const SIZE = FULL
  ? { seconds: 600, rate: 500, issuer: '2m', leaf: '30s', anchorAt: 270, minIssuers: 6, httpConnections: 16 }
  : { seconds: 100, rate: 200, issuer: '24s', leaf: '10s', anchorAt: 30, minIssuers: 5, httpConnections: 8 };

const skip = meshSkipReason();
const APP = join(__dirname, 'mesh-app.js');
const RATE_APP = join(__dirname, 'rate-app.js');
const GRPC_APP = join(__dirname, 'grpc-app.js');
const id = (sa: string) => `${sa}.demo.serviceaccount.identity.linnet.cluster.local`;
const CLIENT_ID = id('client');
const ECHO_ID = id('echo');
const LATE_ID = id('late');
const SERVICES = {
  echo: { vip: '10.96.0.10', port: 7000 },
  web: { vip: '10.96.0.20', port: 8000 },
  grpc: { vip: '10.96.0.30', port: 7500 },
  redis: { vip: '10.96.0.40', port: 6379 },
} as const;
const ADMIN = 9990;

interface Summary {
  event: string;
  kind?: string;
  sent?: number;
  ok: number;
  errors: number;
  errorCodes: Record<string, number>;
  connections?: number;
  p99Ms?: number;
  maxMs?: number;
}

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
let server: Pod;
let late: Pod;
let controlProc: PodProcess;

function startControl(name: string): PodProcess {
  return control.spawn(process.execPath, [
    LINNET_BIN, 'control', '--discovery-file', join(dir, 'mesh.yaml'), '--identity-dir', join(dir, 'ca'),
    '--destination-addr', `${control.ip}:${DESTINATION_PORT}`, '--identity-addr', `${control.ip}:${IDENTITY_PORT}`, '--admin-addr', `${control.ip}:${ADMIN}`,
    '--identity-issuer-lifetime', SIZE.issuer, '--identity-issuance-lifetime', SIZE.leaf, '--identity-poll', '500ms',
  ], { name });
}

async function controlLive(): Promise<void> {
  await eventually(async () => {
    const r = await control.run('curl', ['-sf', `http://${control.ip}:${ADMIN}/live`], { timeoutMs: 2000 });
    assert.equal(r.code, 0);
  }, 15_000, 100);
}

/** Waits until a process has printed a line matching `re` (rotate-anchor prints text, not JSON). */
async function waitForText(p: PodProcess, re: RegExp, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!re.test(p.stdout)) {
    if (!p.running) throw new Error(`${re} never printed; the process exited:\n${p.stdout}`);
    if (Date.now() > end) throw new Error(`${re} not printed within ${timeoutMs} ms:\n${p.stdout}`);
    await sleep(50);
  }
}

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'echo', 'late']);
  // A first issuer as short as the ones the control plane will make itself.
  const { spawnSync } = await import('node:child_process');
  const c = spawnSync(process.execPath, [LINNET_BIN, 'identity', 'create', '--out', join(dir, 'ca'), '--issuer-lifetime', SIZE.issuer, '--force'], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  // What a pod whose copy of the bundle is stale would hold: the old anchor only.
  copyFileSync(join(dir, 'ca', 'ca.crt'), join(dir, 'old-bundle.crt'));
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  server = await cluster.addPod('server');
  late = await cluster.addPod('late');
  const service = (name: string, s: { vip: string; port: number }) => [
    `  - name: ${name}.demo.svc.cluster.local`,
    `    address: ${s.vip}`,
    `    ports: [${s.port}]`,
    '    endpoints:',
    `      - address: ${server.ip}:${s.port}`,
    `        identity: ${ECHO_ID}`,
  ];
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      ...Object.entries(SERVICES).flatMap(([name, s]) => service(name, s)),
      'workloads:',
      ...[['client', CLIENT_ID], ['echo', ECHO_ID], ['late', LATE_ID]].flatMap(([t, i]) => [`  - identity: ${i}`, `    token: "${t}-token"`]),
      '',
    ].join('\n'),
  );
  controlProc = startControl('control');
  await controlLive();
  await Promise.all([client.init(), server.init(), late.init()]);
  const env = (who: string, ident: string) => meshProxyEnv(control, dir, ident, who, { LINNET_PROXY_IDENTITY_MIN_REFRESH: '1s' });
  await Promise.all([client.startProxy(env('client', CLIENT_ID)), server.startProxy(env('echo', ECHO_ID))]);
  const apps = [
    server.spawn(process.execPath, [APP, 'serve', '--port', String(SERVICES.echo.port), '--name', 'server'], { uid: APP_UID, name: 'echo-serve' }),
    server.spawn(process.execPath, [APP, 'http-serve', '--port', String(SERVICES.web.port), '--name', 'server'], { uid: APP_UID, name: 'http-serve' }),
    server.spawn(process.execPath, [GRPC_APP, 'serve', '--port', String(SERVICES.grpc.port)], { uid: APP_UID, name: 'grpc-serve' }),
  ];
  for (const p of apps) await p.waitForEvent((e) => e.event === 'listening');
  server.spawn('redis-server', ['--port', String(SERVICES.redis.port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], { uid: APP_UID, name: 'redis' });
  await eventually(async () => {
    const r = await server.run('redis-cli', ['-p', String(SERVICES.redis.port), 'PING'], { uid: APP_UID });
    assert.equal(r.stdout.trim(), 'PONG');
  }, 10_000);
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fp = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
const trusted = async (pod: Pod) => (await pod.metrics()).filter((x) => x.name === 'identity_trust_anchor_expiration_timestamp_seconds').map((x) => x.labels['sha256']).sort();

test(`issuer rotations and a full rotate-anchor, with the control plane restarted in the middle, under ${SIZE.rate}/s per kind for ${SIZE.seconds} s lose nothing; every proxy ends on the new anchor only`, { skip, timeout: (SIZE.seconds + 240) * 1000 }, logsOnFailure(() => cluster, async () => {
  const caDir = join(dir, 'ca');
  const oldAnchor = fp(readFileSync(join(caDir, 'ca.crt'), 'utf8'));
  const issuerSerials = new Set<string>();
  const watchIssuer = setInterval(() => {
    try {
      issuerSerials.add(new X509Certificate(readFileSync(join(caDir, 'issuer.crt'))).serialNumber);
    } catch {
      /* mid-rename */
    }
  }, 200);
  const t0 = Date.now();
  const at = () => `${Math.round((Date.now() - t0) / 1000)} s`;
  const to = (s: { vip: string; port: number }) => `${s.vip}:${s.port}`;
  const rateArgs = ['--rate', String(SIZE.rate), '--seconds', String(SIZE.seconds), '--progress-ms', '10000'];
  const loads = [
    client.spawn(process.execPath, [RATE_APP, 'http', '--to', to(SERVICES.web), '--connections', String(SIZE.httpConnections), ...rateArgs], { uid: APP_UID, name: 'rate-http' }),
    client.spawn(process.execPath, [RATE_APP, 'grpc', '--to', to(SERVICES.grpc), ...rateArgs], { uid: APP_UID, name: 'rate-grpc' }),
    client.spawn(process.execPath, [RATE_APP, 'redis', '--to', to(SERVICES.redis), ...rateArgs], { uid: APP_UID, name: 'rate-redis' }),
  ];
  const handshakes = client.spawn(process.execPath, [APP, 'load', '--to', to(SERVICES.echo), '--concurrency', '2', '--duration-ms', String(SIZE.seconds * 1000), '--progress-ms', '10000'], { uid: APP_UID, name: 'new-connections' });
  try {
    await sleep(SIZE.anchorAt * 1000);
    const rotateArgs = [LINNET_BIN, 'identity', 'rotate-anchor', '--identity-dir', caDir, '--control', `${control.ip}:${ADMIN}`, '--poll', '500ms', '--timeout', '5m'];
    // The rotation is interrupted once the new anchor is in the bundle: the control plane is killed
    // (and rotate-anchor with it, as a crashed operator's shell would be), then both start again.
    const first = control.spawn(process.execPath, rotateArgs, { name: 'rotate-anchor-1' });
    await waitForText(first, /\[2\/5\]/, 60_000);
    for (const p of [first, controlProc]) killGroup(p.pid, 'SIGKILL');
    await Promise.all([first.wait(5000), controlProc.wait(5000)]);
    process.stderr.write(`rotate-anchor interrupted at ${at()}:\n${first.stdout}`);
    assert.equal((readFileSync(join(caDir, 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'the bundle holds both anchors');
    controlProc = startControl('control-restarted');
    await controlLive();

    // A proxy started during the overlap, from a stale bundle with the old anchor only, is given
    // both by the identity service, and reaches the server through the mesh.
    await late.startProxy(meshProxyEnv(control, dir, LATE_ID, 'late', { LINNET_PROXY_IDENTITY_MIN_REFRESH: '1s', LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(dir, 'old-bundle.crt') }));
    await eventually(async () => assert.equal((await trusted(late)).length, 2, `the late proxy trusts both anchors (${JSON.stringify(await trusted(late))})`), 10_000, 200);
    const lateCall = await late.run(process.execPath, [RATE_APP, 'http', '--to', to(SERVICES.web), '--rate', '20', '--seconds', '2', '--connections', '1'], { uid: APP_UID, timeoutMs: 30_000 });
    const lateSummary = JSON.parse(lateCall.stdout.trim().split('\n').pop()!) as Summary;
    assert.deepEqual([lateSummary.ok, lateSummary.errors], [40, 0], `from the late pod: ${lateCall.stdout}`);

    const second = await control.run(process.execPath, rotateArgs, { timeoutMs: 330_000 });
    process.stderr.write(`rotate-anchor resumed at ${at()}:\n${second.stdout}${second.stderr}`);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /resuming the rotation/);
    assert.match(second.stdout, /rotation finished/);

    const summaries = await Promise.all(loads.map((p) => p.waitForEvent<Summary>((e) => e.event === 'summary' || e.event === 'failed', (SIZE.seconds + 60) * 1000)));
    const s = await handshakes.waitForEvent<Summary>((e) => e.event === 'summary', (SIZE.seconds + 60) * 1000);
    clearInterval(watchIssuer);
    process.stderr.write(`after ${at()}: ${summaries.map((x) => JSON.stringify(x)).join('\n')}\nnew connections: ${JSON.stringify(s)}; issuers seen: ${issuerSerials.size}\n`);
    for (const x of summaries) {
      assert.equal(x.event, 'summary', JSON.stringify(x));
      assert.equal(x.errors, 0, JSON.stringify(x));
      assert.equal(x.sent, SIZE.rate * SIZE.seconds, `${x.kind}: the whole schedule was sent`);
      assert.equal(x.ok, x.sent, JSON.stringify(x));
    }
    const [http, grpcStream, redis] = summaries;
    // HTTP/1.1 has one request at a time per connection: enough of them that the rate never
    // queues in the client (the connection count is what proves none was lost).
    assert.equal(http!.connections, SIZE.httpConnections, 'the keep-alive HTTP/1.1 connections lasted the whole run (none reset, none replaced)');
    assert.equal(grpcStream!.connections, 1, 'the one gRPC stream lasted the whole run');
    assert.equal(redis!.connections, 1, 'the one Redis connection lasted the whole run');
    assert.equal(s.errors, 0, JSON.stringify(s));
    assert.ok(s.ok > 500, JSON.stringify(s));
    assert.ok(issuerSerials.size >= SIZE.minIssuers, `issuers seen: ${issuerSerials.size}`);

    // Redis rode mTLS, as opaque bytes: the server's proxy saw the client's identity on it.
    const inbound = await server.metrics();
    assert.ok(sum(inbound, 'tcp_open_total', { direction: 'inbound', target_addr: `${server.ip}:${SERVICES.redis.port}`, tls: 'true', client_id: CLIENT_ID }) >= 1, 'the Redis connection arrived over mTLS');

    // The new anchor only, everywhere: the bundle, every proxy's anchors, every leaf's anchor.
    const newAnchor = fp(readFileSync(join(caDir, 'ca.crt'), 'utf8'));
    assert.notEqual(newAnchor, oldAnchor);
    assert.equal((readFileSync(join(caDir, 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    await eventually(async () => {
      const view = JSON.parse((await control.run('curl', ['-sf', `http://${control.ip}:${ADMIN}/identity/proxies`])).stdout) as { proxies: { identity: string; anchors: string[]; issuerAnchor: string; leafNotAfter: number }[] };
      for (const who of [CLIENT_ID, ECHO_ID, LATE_ID]) {
        const mine = view.proxies.filter((p) => p.identity === who && p.leafNotAfter > Date.now());
        assert.ok(mine.length >= 1, `${who} is known to the control plane`);
        for (const p of mine) {
          assert.deepEqual(p.anchors, [newAnchor], `${who} was given the new anchor only`);
          assert.equal(p.issuerAnchor, newAnchor, `${who}'s leaf chains to the new anchor`);
        }
      }
      for (const pod of [client, server, late]) assert.deepEqual(await trusted(pod), [newAnchor.slice(0, 16)], `${pod.name} trusts the new anchor only`);
    }, 30_000, 500);
    for (const pod of [client, server]) assert.ok(sum(await pod.metrics(), 'identity_cert_refresh_total', { result: 'ok' }) >= 5, `${pod.name} renewed its leaf`);
  } finally {
    clearInterval(watchIssuer);
  }
}));
