/**
 * appProtocol in real pods: postfix's smtp-sink (the server speaks first) behind a service whose
 * port says `appProtocol: linkerd.io/opaque` in the mesh file (the embedded mode's Service), with
 * no opaque-ports annotation or proxy setting anywhere. A meshed client's banner arrives through
 * both proxies (opaque transport to the server's 4143, mTLS) within 100 ms; the same sink on an
 * undeclared port waits out the 250 ms detect timeout (the control: this test can fail).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { eventually } from './pods/mesh';
import { makeMeshDir, meshProxyEnv, startMeshControl } from './pods/mesh-control';

const skip = meshSkipReason();
const CLIENT_ID = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const MAIL_ID = 'mail.demo.serviceaccount.identity.linnet.cluster.local';
const DECLARED = { vip: '10.96.0.50', port: 2525 };
const UNDECLARED = { vip: '10.96.0.51', port: 2526 };
// HTTP ports: one declared `appProtocol: http`, one not; the same app behind both.
const HTTP_DECLARED = { vip: '10.96.0.52', port: 8080 };
const HTTP_UNDECLARED = { vip: '10.96.0.53', port: 8081 };
const MESH_APP = join(__dirname, 'mesh-app.js');

let cluster: Cluster | undefined;
let dir: string;
let control: Pod;
let client: Pod;
let server: Pod;

before(async () => {
  if (skip) return;
  dir = makeMeshDir(['client', 'mail'], 'linnet-approto-');
  cluster = await Cluster.create();
  control = await cluster.addPod('control');
  client = await cluster.addPod('client');
  server = await cluster.addPod('mail');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'services:',
      '  - name: mail.demo.svc.cluster.local',
      `    address: ${DECLARED.vip}`,
      `    ports: [{ port: ${DECLARED.port}, appProtocol: linkerd.io/opaque }]`,
      `    endpoints: [{ address: "${server.ip}:${DECLARED.port}", identity: ${MAIL_ID} }]`,
      '  - name: mail-undeclared.demo.svc.cluster.local',
      `    address: ${UNDECLARED.vip}`,
      `    ports: [${UNDECLARED.port}]`,
      `    endpoints: [{ address: "${server.ip}:${UNDECLARED.port}", identity: ${MAIL_ID} }]`,
      '  - name: web.demo.svc.cluster.local',
      `    address: ${HTTP_DECLARED.vip}`,
      `    ports: [{ port: ${HTTP_DECLARED.port}, appProtocol: http }]`,
      `    endpoints: [{ address: "${server.ip}:${HTTP_DECLARED.port}", identity: ${MAIL_ID} }]`,
      '  - name: web-undeclared.demo.svc.cluster.local',
      `    address: ${HTTP_UNDECLARED.vip}`,
      `    ports: [${HTTP_UNDECLARED.port}]`,
      `    endpoints: [{ address: "${server.ip}:${HTTP_UNDECLARED.port}", identity: ${MAIL_ID} }]`,
      'workloads:',
      `  - { identity: ${CLIENT_ID}, token: client-token }`,
      `  - { identity: ${MAIL_ID}, token: mail-token }`,
      '',
    ].join('\n'),
  );
  await startMeshControl(control, dir);
  await Promise.all([client.init(), server.init()]);
  // Default proxy settings: 250 ms detect timeout, the default opaque list (2525/2526 not in it).
  await Promise.all([client.startProxy(meshProxyEnv(control, dir, CLIENT_ID, 'client')), server.startProxy(meshProxyEnv(control, dir, MAIL_ID, 'mail'))]);
  for (const { port } of [DECLARED, UNDECLARED]) {
    server.spawn('smtp-sink', [`0.0.0.0:${port}`, '16'], { uid: APP_UID, name: `smtp-sink-${port}` });
  }
  for (const { port } of [HTTP_DECLARED, HTTP_UNDECLARED]) {
    server.spawn(process.execPath, [MESH_APP, 'http-serve', '--port', String(port), '--name', `web-${port}`], { uid: APP_UID, name: `web-${port}` });
  }
  await eventually(async () => {
    const r = await server.run('ss', ['-ltnH']);
    for (const { port } of [DECLARED, UNDECLARED, HTTP_DECLARED, HTTP_UNDECLARED]) assert.match(r.stdout, new RegExp(`:${port}\\b`));
  });
});

after(async () => {
  await cluster?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Connects through the client's proxy, reads the banner line, and says how many ms it took. */
async function banner(host: string, port: number): Promise<{ line: string; ms: number; out: string }> {
  const script = `exec 3<>/dev/tcp/${host}/${port} || exit 7; a=$(date +%s%N); timeout 8 head -1 <&3; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))`;
  const r = await client.run('bash', ['-c', script], { uid: APP_UID, timeoutMs: 15_000 });
  const lines = r.stdout.trim().split('\n');
  return { line: lines.length > 1 ? lines[0]! : '', ms: Number(lines[lines.length - 1]), out: `${r.stdout}${r.stderr}` };
}

test('appProtocol: linkerd.io/opaque: the SMTP banner within 100 ms through both proxies; undeclared, it waits for detection', { skip, timeout: 60_000 }, logsOnFailure(() => cluster, async () => {
  const declared: number[] = [];
  for (let i = 0; i < 3; i++) {
    const b = await banner(DECLARED.vip, DECLARED.port);
    assert.match(b.line, /^220 /, b.out);
    declared.push(b.ms);
  }
  const undeclared = await banner(UNDECLARED.vip, UNDECLARED.port);
  assert.match(undeclared.line, /^220 /, undeclared.out);
  process.stderr.write(`# banner ms: declared opaque [${declared}], undeclared ${undeclared.ms}\n`);
  assert.ok(Math.max(...declared) < 100, `declared opaque, the banner took [${declared}] ms`);
  assert.ok(undeclared.ms >= 200, `undeclared, the banner took ${undeclared.ms} ms: detection should have held it for the 250 ms timeout`);
  // Both proxies were on the path, over mTLS: the client's outbound and the server's inbound.
  await eventually(async () => {
    const [out, inb] = await Promise.all([client.metrics(), server.metrics()]);
    const target = `${server.ip}:${DECLARED.port}`;
    assert.ok(sum(out, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: MAIL_ID, target_addr: target }) >= 3);
    assert.ok(sum(inb, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: CLIENT_ID, target_addr: target }) >= 3);
  });
}));

/**
 * A request whose first bytes arrive, then nothing for longer than the detect timeout, then the
 * rest: detection gives up on it (opaque), but a port declared `appProtocol: http` is never
 * detected, so the request is served as HTTP through both proxies all the same.
 */
async function slowRequest(host: string, port: number): Promise<string> {
  const script = `exec 3<>/dev/tcp/${host}/${port} || exit 7; printf 'GE' >&3; sleep 0.8; printf 'T /slow HTTP/1.1\\r\\nHost: web\\r\\nConnection: close\\r\\n\\r\\n' >&3; timeout 8 head -1 <&3`;
  const r = await client.run('bash', ['-c', script], { uid: APP_UID, timeoutMs: 15_000 });
  return r.stdout.trim();
}

test('appProtocol: http: a request that pauses past the detect timeout is still served and counted as HTTP; undeclared, it goes through as opaque bytes', { skip, timeout: 60_000 }, logsOnFailure(() => cluster, async () => {
  const httpRequests = async (port: number) => sum(await client.metrics(), 'request_total', { direction: 'outbound', target_addr: `${server.ip}:${port}` });
  const before = { declared: await httpRequests(HTTP_DECLARED.port), undeclared: await httpRequests(HTTP_UNDECLARED.port) };
  assert.match(await slowRequest(HTTP_DECLARED.vip, HTTP_DECLARED.port), /^HTTP\/1\.1 200/);
  assert.match(await slowRequest(HTTP_UNDECLARED.vip, HTTP_UNDECLARED.port), /^HTTP\/1\.1 200/, 'relayed as opaque bytes, the app still answers');
  await eventually(async () => assert.equal((await httpRequests(HTTP_DECLARED.port)) - before.declared, 1, 'declared: the client proxy served it as an HTTP request'));
  // Undeclared: detection timed out and the connection went through as opaque TCP (no HTTP request counted).
  assert.equal((await httpRequests(HTTP_UNDECLARED.port)) - before.undeclared, 0);
}));
