/**
 * Opaque transport in network-namespace pods (`linnet control` + CA, a meshed client pod, a
 * meshed server pod whose proxy has a 3 s detect timeout, and the node namespace as an unmeshed
 * client). Proves: a meshed client reaches a server-speaks-first app on an opaque port through the
 * server proxy's inbound port 4143 (on the wire: a TLS 1.3 ClientHello for the server's identity
 * to 4143, no connection to the app port), an unmeshed client gets the same app's banner at once
 * (no detection on an opaque port), a port that is opaque only by the proxies' default list works
 * the same way (the control plane applies the default), plaintext straight to 4143 is reset and
 * counted, and a require-TLS opaque port refuses plaintext at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, PodProcess, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';
import { parseClientHello } from '../proxy/accept/detect/client-hello';

const skip = meshSkipReason() ?? (spawnSync('tcpdump', ['--version']).status === 0 ? undefined : 'needs tcpdump (apt-get install -y tcpdump)');
const APP = join(__dirname, 'mesh-app.js');
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const DB_ID = 'db.demo.serviceaccount.identity.linnet.cluster.local';
/** Declared opaque in the mesh file. */
const GREET_VIP = '10.96.0.40';
const GREET_PORT = 6379;
/** Opaque only through the default list (the mesh file says nothing); also requires mTLS. */
const PG_VIP = '10.96.0.41';
const PG_PORT = 5432;
const DETECT_MS = 3000;
/**
 * A service (port not opaque) with a meshed endpoint on a port its proxy treats as opaque (3306,
 * default list) and an unmeshed one: the client detects HTTP and balances per request.
 */
const MIXED_VIP = '10.96.0.42';
const MIXED_PORT = 7200;
const MIXED_DB_PORT = 3306;

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
let server: Pod;

const it = (name: string, body: () => Promise<void>) => test(name, { skip }, logsOnFailure(() => cluster, body));

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'db'], 'linnet-otp-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  server = await cluster.addPod('db');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: greet.demo.svc.cluster.local',
      `    address: ${GREET_VIP}`,
      `    ports: [${GREET_PORT}]`,
      `    opaquePorts: [${GREET_PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${GREET_PORT}`,
      `        identity: ${DB_ID}`,
      '  - name: pg.demo.svc.cluster.local',
      `    address: ${PG_VIP}`,
      `    ports: [${PG_PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${PG_PORT}`,
      `        identity: ${DB_ID}`,
      '  - name: mixed.demo.svc.cluster.local',
      `    address: ${MIXED_VIP}`,
      `    ports: [${MIXED_PORT}]`,
      '    endpoints:',
      `      - address: ${server.ip}:${MIXED_DB_PORT}`,
      `        identity: ${DB_ID}`,
      `      - address: ${control.ip}:${MIXED_PORT}`,
      'workloads:',
      `  - identity: ${CLIENT_ID}`,
      '    token: "client-token"',
      `  - identity: ${DB_ID}`,
      '    token: "db-token"',
      '',
    ].join('\n'),
  );
  await startMeshControl(control, dir);
  await Promise.all([client.init(), server.init()]);
  await Promise.all([
    client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client')),
    // A long detect timeout makes any wait for detection on the server side plain to see.
    server.startProxy(meshProxyEnv(control, dir, DB_ID, 'db', { LINNET_PROXY_DETECT_TIMEOUT: `${DETECT_MS}ms`, LINNET_PROXY_INBOUND_PORTS_REQUIRE_TLS: String(PG_PORT) })),
  ]);
  for (const [pod, port, name] of [[server, MIXED_DB_PORT, 'meshed'], [control, MIXED_PORT, 'plain']] as const) {
    const p = pod.spawn(process.execPath, [APP, 'http-serve', '--port', String(port), '--name', name, '--delay-ms', '0'], { uid: APP_UID, name: `http-${port}` });
    await p.waitForEvent((e) => e.event === 'listening');
  }
  for (const port of [GREET_PORT, PG_PORT]) {
    const p = server.spawn(process.execPath, [APP, 'serve', '--port', String(port), '--name', `db${port}`, '--greet'], { uid: APP_UID, name: `greet-${port}` });
    await p.waitForEvent((e) => e.event === 'listening');
  }
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Connects, reads the banner line, and reports it with the milliseconds it took. */
async function banner(from: Pod | 'node', host: string, port: number): Promise<{ line: string; ms: number; out: string }> {
  const script = `exec 3<>/dev/tcp/${host}/${port} || exit 7; a=$(date +%s%N); timeout 8 head -1 <&3; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))`;
  const r =
    from === 'node'
      ? spawnSync('ip', ['netns', 'exec', cluster!.nodeNs, 'bash', '-c', script], { encoding: 'utf8', timeout: 15_000 })
      : await from.run('bash', ['-c', script], { uid: APP_UID, timeoutMs: 15_000 });
  const lines = (r.stdout ?? '').trim().split('\n');
  return { line: lines.length > 1 ? lines[0]! : '', ms: Number(lines[lines.length - 1]), out: `${r.stdout}${r.stderr}` };
}

it('a meshed client reaches an opaque port through the peer inbound port 4143: mTLS for its identity on the wire, no connection to the app port', async () => {
  const pcapFile = join(cluster!.logDir, 'opaque-transport.pcap');
  const dump = new PodProcess('tcpdump', ['ip', 'netns', 'exec', cluster!.nodeNs, 'tcpdump', '-i', 'br0', '--immediate-mode', '-U', '-s', '0', '-w', pcapFile, 'tcp', 'and', 'host', server.ip], join(cluster!.logDir, 'tcpdump-otp.log'), process.env);
  let b;
  try {
    await eventually(() => assert.match(readFileSync(dump.logFile, 'utf8'), /listening on br0/), 5000);
    b = await banner(client, GREET_VIP, GREET_PORT);
    await sleep(300);
  } finally {
    dump.signal('SIGINT');
    await dump.exited;
  }
  assert.equal(b.line, `db${GREET_PORT} ready`, b.out);
  assert.ok(b.ms < DETECT_MS - 1000, `the banner took ${b.ms} ms: held up by detection`);
  const syns = (filter: string) => spawnSync('tcpdump', ['-nr', pcapFile, `${filter} and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length;
  assert.ok(syns(`src host ${client.ip} and dst port 4143`) >= 1, 'the client proxy connected to the server proxy inbound port');
  assert.equal(syns(`src host ${client.ip} and dst port ${GREET_PORT}`), 0, 'nothing from the client pod connects to the app port itself');
  // The first client bytes to 4143 are a TLS 1.3 ClientHello naming the server identity.
  const raw = spawnSync('tcpdump', ['-nr', pcapFile, '-x', `src host ${client.ip} and dst port 4143 and tcp[((tcp[12:1] & 0xf0) >> 2):1] = 0x16`], { encoding: 'utf8' }).stdout;
  const firstPacket = raw.split(/\n(?=\d\d:)/)[0] ?? '';
  const bytes = Buffer.from(firstPacket.split('\n').slice(1).map((l) => l.replace(/^\s*0x[0-9a-f]+:\s*/, '').replace(/\s+/g, '')).join(''), 'hex');
  const ipHeader = (bytes[0]! & 0x0f) * 4;
  const tcpHeader = (bytes[ipHeader + 12]! >> 4) * 4;
  const hello = parseClientHello(bytes.subarray(ipHeader + tcpHeader));
  assert.equal(hello.status, 'ok', `no ClientHello in the first data to 4143: ${firstPacket.slice(0, 300)}`);
  if (hello.status === 'ok') {
    assert.equal(hello.hello.sni, DB_ID);
    assert.deepEqual(hello.hello.supportedVersions, [0x0304]);
  }
  await eventually(async () => {
    const [out, inb] = await Promise.all([client.metrics(), server.metrics()]);
    assert.ok(sum(out, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: DB_ID, target_addr: `${server.ip}:${GREET_PORT}` }) >= 1);
    assert.ok(sum(inb, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: CLIENT_ID, target_addr: `${server.ip}:${GREET_PORT}` }) >= 1);
    // TLS on a leg (the mTLS to the peer; the terminated stream on the inbound side): the
    // JavaScript relay carries the bytes, never the kernel's (these are both proxies' first
    // opaque connections).
    assert.ok(sum(out, 'tcp_relay_total', { direction: 'outbound', relay: 'userspace' }) >= 1);
    assert.equal(sum(out, 'tcp_relay_total', { direction: 'outbound', relay: 'splice' }), 0);
    assert.ok(sum(inb, 'tcp_relay_total', { direction: 'inbound', relay: 'userspace' }) >= 1);
    assert.equal(sum(inb, 'tcp_relay_total', { direction: 'inbound', relay: 'splice' }), 0);
  });
});

it('an unmeshed client gets the banner of an app on an opaque port at once: nothing is detected there', async () => {
  const b = await banner('node', server.ip, GREET_PORT);
  assert.equal(b.line, `db${GREET_PORT} ready`, b.out);
  assert.ok(b.ms < DETECT_MS - 1000, `the banner took ${b.ms} ms with a ${DETECT_MS} ms detect timeout: the inbound side waited for detection`);
  await eventually(async () => {
    const inb = await server.metrics();
    assert.ok(sum(inb, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'no_identity', target_addr: `${server.ip}:${GREET_PORT}` }) >= 1);
    // Plaintext client, plaintext app: the kernel relays it (splice).
    assert.ok(sum(inb, 'tcp_relay_total', { direction: 'inbound', relay: 'splice' }) >= 1);
  });
});

it('a port opaque only by the default list is reached the same way, and its require-TLS setting refuses plaintext at once', async () => {
  const meshed = await banner(client, PG_VIP, PG_PORT);
  assert.equal(meshed.line, `db${PG_PORT} ready`, meshed.out);
  assert.ok(meshed.ms < DETECT_MS - 1000, `meshed banner took ${meshed.ms} ms`);
  const before = sum(await server.metrics(), 'inbound_plaintext_refused_total', { target_addr: `${server.ip}:${PG_PORT}` });
  const plain = await banner('node', server.ip, PG_PORT);
  assert.notEqual(plain.line, `db${PG_PORT} ready`, 'plaintext must not reach a require-TLS port');
  assert.ok(plain.ms < DETECT_MS - 1000, `the refusal took ${plain.ms} ms`);
  await eventually(async () => assert.ok(sum(await server.metrics(), 'inbound_plaintext_refused_total', { target_addr: `${server.ip}:${PG_PORT}` }) > before));
});

it('plaintext straight to the inbound port is reset and counted; the apps see nothing', async () => {
  const count = async () => {
    const m = await server.metrics();
    return sum(m, 'inbound_plaintext_refused_total', { reason: 'opaque-transport-http1' });
  };
  const before = await count();
  const r = spawnSync('ip', ['netns', 'exec', cluster!.nodeNs, 'curl', '-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${server.ip}:4143/`], { encoding: 'utf8', timeout: 15_000 });
  assert.notEqual(r.status, 0, `curl to 4143 must fail: ${r.stdout}${r.stderr}`);
  await eventually(async () => assert.ok((await count()) > before));
});

it('HTTP/1.1 balanced to a meshed endpoint on a port its proxy treats as opaque goes through opaque transport as HTTP/1.1', async () => {
  const r = await client.run('bash', ['-c', `for i in $(seq 1 30); do curl -sS -m 5 http://${MIXED_VIP}:${MIXED_PORT}/ ; echo; done`], { uid: APP_UID, timeoutMs: 60_000 });
  const answers = r.stdout.trim().split('\n');
  assert.equal(answers.length, 30, r.stdout + r.stderr);
  assert.ok(answers.every((a) => a === 'meshed' || a === 'plain'), `every request answered by an endpoint: ${JSON.stringify(answers)} ${r.stderr}`);
  assert.ok(answers.includes('meshed'), `the meshed endpoint was reached: ${JSON.stringify(answers)}`);
  await eventually(async () => {
    const [out, inb] = await Promise.all([client.metrics(), server.metrics()]);
    assert.ok(sum(out, 'request_total', { direction: 'outbound', tls: 'true', server_id: DB_ID, target_addr: `${server.ip}:${MIXED_DB_PORT}` }) >= 1);
    // The inbound side saw a peer's mTLS for the opaque port (via 4143), not HTTP/2.
    assert.ok(sum(inb, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: CLIENT_ID, target_addr: `${server.ip}:${MIXED_DB_PORT}` }) >= 1);
  });
});
