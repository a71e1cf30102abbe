/**
 * Prior-knowledge HTTP/2 through two meshed pods with real peers: curl --http2-prior-knowledge and
 * h2load in the client pod; nginx (h2c) and a node:http2 app in the server pod. Bodies checked
 * byte for byte, resets and refusals carried, and the golden metrics counted in both proxies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, logsOnFailure, meshSkipReason, sum, type PodProcess, type Sample } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const H2_APP = join(__dirname, 'http2-app.js');
const NGINX_PORT = 8080;
const APP_PORT = 8081;
let mesh: Mesh | undefined;
let dir = '';
let app: PodProcess | undefined;
const FILE_BYTES = 5 * 1024 * 1024 + 17;
let fileSha = '';

function nginxConf(d: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${d}/body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  http2_max_concurrent_streams 128;
  server {
    listen ${NGINX_PORT} http2;
    location /files/ { alias ${d}/files/; }
    location = /small { default_type text/plain; return 200 "hello\\n"; }
  }
}
`;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'linnet-h2-'));
  mkdirSync(join(dir, 'files'));
  const file = randomBytes(FILE_BYTES);
  fileSha = createHash('sha256').update(file).digest('hex');
  writeFileSync(join(dir, 'files', 'big.bin'), file);
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir));
  for (const p of [dir, join(dir, 'files'), join(dir, 'files', 'big.bin'), join(dir, 'nginx.conf')]) chownSync(p, APP_UID, APP_UID);
  mesh = await createMesh();
  const { server } = mesh;
  server.spawn('nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], { uid: APP_UID, name: 'nginx' });
  app = server.spawn(process.execPath, [H2_APP, 'serve', '--port', String(APP_PORT)], { uid: APP_UID, name: 'h2-app' });
  await app.waitForEvent((e) => e.event === 'listening');
  // nginx is up once its port answers (asked from inside the pod, over loopback: no proxy).
  await eventually(async () => {
    const r = await server.run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${NGINX_PORT}/small`], { timeoutMs: 5000 });
    assert.equal(r.stdout, '200');
  }, 10_000);
});
after(async () => {
  await mesh?.cluster.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const it = (name: string, body: (m: Mesh) => Promise<void>) => test(name, { skip }, logsOnFailure(() => mesh?.cluster, () => body(mesh!)));

async function metrics(m: Mesh): Promise<{ out: Sample[]; inb: Sample[] }> {
  const [out, inb] = await Promise.all([m.client.metrics(), m.server.metrics()]);
  return { out, inb };
}

const curl = (m: Mesh, args: string[], input?: Buffer) =>
  m.client.run('curl', ['-sS', '--http2-prior-knowledge', ...args], { uid: APP_UID, timeoutMs: 30_000, input });

it('curl --http2-prior-knowledge: a 5 MB download from nginx and a 3 MB upload arrive byte for byte, counted on both sides', async (m) => {
  const nginx = `${m.server.ip}:${NGINX_PORT}`;
  const r = await m.client.run('sh', ['-c', `curl -sS --http2-prior-knowledge http://${nginx}/files/big.bin | sha256sum`], {
    uid: APP_UID,
    timeoutMs: 30_000,
  });
  assert.equal(r.stdout.split(' ')[0], fileSha, r.stderr);
  const v = await curl(m, ['-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://${nginx}/files/big.bin`]);
  assert.equal(v.stdout, '2 200', 'curl spoke HTTP/2 end to end');

  const upload = randomBytes(3 * 1024 * 1024 + 5);
  const appAddr = `${m.server.ip}:${APP_PORT}`;
  const up = await curl(m, ['--data-binary', '@-', '-H', 'content-type: application/octet-stream', `http://${appAddr}/sha`], upload);
  assert.equal(up.code, 0, up.stderr);
  const got = JSON.parse(up.stdout) as { bytes: number; sha: string; authority: string };
  assert.deepEqual(got, { bytes: upload.length, sha: createHash('sha256').update(upload).digest('hex'), authority: appAddr });

  await eventually(async () => {
    const { out, inb } = await metrics(m);
    for (const [s, direction] of [[out, 'outbound'], [inb, 'inbound']] as const) {
      assert.equal(
        sum(s, 'response_total', { direction, authority: nginx, status_code: '200', classification: 'success' }),
        2,
        `${direction} nginx: ${JSON.stringify(s.filter((x) => x.name === 'response_total' && x.labels.direction === direction))}`,
      );
      assert.equal(sum(s, 'response_total', { direction, authority: appAddr, target_addr: appAddr, status_code: '200', classification: 'success' }), 1, `${direction} app`);
      assert.equal(sum(s, 'request_total', { direction, authority: nginx, tls: 'no_identity' }), 2);
    }
  });
});

it('h2load -n 2000 -c 4 -m 16 against nginx: every request succeeds and each proxy counts 2000', async (m) => {
  const nginx = `${m.server.ip}:${NGINX_PORT}`;
  const before = await metrics(m);
  const r = await m.client.run('h2load', ['-n', '2000', '-c', '4', '-m', '16', `http://${nginx}/small`], { uid: APP_UID, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/, r.stdout);
  assert.match(r.stdout, /status codes: 2000 2xx/);
  const ok = (s: Sample[], direction: string) => sum(s, 'response_total', { direction, authority: nginx, status_code: '200', classification: 'success' });
  await eventually(async () => {
    const now = await metrics(m);
    assert.equal(ok(now.out, 'outbound') - ok(before.out, 'outbound'), 2000);
    assert.equal(ok(now.inb, 'inbound') - ok(before.inb, 'inbound'), 2000);
    assert.ok(sum(now.out, 'response_latency_ms_count', { direction: 'outbound', authority: nginx }) >= 2000);
  });
});

it('an upstream that resets mid-response: the client sees the stream reset after the bytes sent so far, both proxies count a failure', async (m) => {
  const appAddr = `${m.server.ip}:${APP_PORT}`;
  const r = await m.client.run('sh', ['-c', `curl -sS --http2-prior-knowledge http://${appAddr}/reset | wc -c; echo "curl=\${PIPESTATUS:-}"`], { uid: APP_UID, timeoutMs: 30_000 });
  assert.match(r.stderr, /HTTP\/2 stream \d+ was not closed cleanly|stream error|INTERNAL_ERROR/i, r.stderr);
  assert.ok(Number(r.stdout.split('\n')[0]) <= 100 * 1024);
  await app!.waitForEvent((e) => e.event === 'stream-reset' && e.path === '/reset', 5000);
  await eventually(async () => {
    const { out, inb } = await metrics(m);
    assert.equal(sum(inb, 'response_total', { direction: 'inbound', authority: appAddr, classification: 'failure', status_code: '200' }), 1);
    assert.equal(sum(out, 'response_total', { direction: 'outbound', authority: appAddr, classification: 'failure', status_code: '200' }), 1);
  });
});

it('a client that goes away mid-request: the server sees the stream reset', async (m) => {
  const appAddr = `${m.server.ip}:${APP_PORT}`;
  const arrivedBefore = app!.events().filter((e) => e.event === 'arrived').length;
  const c = m.client.spawn('curl', ['-sS', '--http2-prior-knowledge', `http://${appAddr}/slow?ms=20000`], { uid: APP_UID, name: 'curl-slow' });
  await eventually(() => assert.equal(app!.events().filter((e) => e.event === 'arrived').length, arrivedBefore + 1), 10_000);
  // The request is at the server, waiting: the client goes away.
  await c.stop(1000);
  const reset = await app!.waitForEvent<{ event: string; path: string; rstCode: number }>((e) => e.event === 'stream-reset' && e.path === '/slow', 5000);
  assert.ok(reset.rstCode > 0);
});

it('nothing listening: 502 with l5d-proxy-error from the inbound proxy, counted', async (m) => {
  const target = `${m.server.ip}:8099`;
  const r = await curl(m, ['-i', `http://${target}/`]);
  assert.match(r.stdout, /^HTTP\/2 502/);
  assert.match(r.stdout, /l5d-proxy-error: connection refused: ECONNREFUSED/);
  await sleep(100);
  await eventually(async () => {
    const { inb, out } = await metrics(m);
    assert.equal(sum(inb, 'response_total', { direction: 'inbound', target_addr: target, status_code: '502', classification: 'failure' }), 1);
    assert.equal(sum(out, 'response_total', { direction: 'outbound', target_addr: target, status_code: '502', classification: 'failure' }), 1);
  });
});

// Last: it stops the client pod's proxy.
it('SIGTERM drains HTTP/2: GOAWAY lets an in-flight request finish, then the proxy exits well before its grace period', async (m) => {
  const appAddr = `${m.server.ip}:${APP_PORT}`;
  // A client that keeps its connection open after the request, as pooled clients do.
  const script = `
    const h = require('node:http2');
    const s = h.connect('http://${appAddr}');
    s.on('goaway', () => console.log(JSON.stringify({ event: 'goaway' })));
    s.on('error', () => {});
    const r = s.request({ ':path': '/slow?ms=1500' });
    let body = '';
    r.on('response', (hd) => console.log(JSON.stringify({ event: 'response', status: hd[':status'] })));
    r.on('data', (d) => (body += d));
    r.on('end', () => console.log(JSON.stringify({ event: 'done', body })));
    setTimeout(() => process.exit(0), 20000);`;
  const c = m.client.spawn(process.execPath, ['-e', script], { uid: APP_UID, name: 'h2-drain-client' });
  await app!.waitForEvent((e) => e.event === 'arrived' && app!.events().filter((x) => x.event === 'arrived').length >= 2, 10_000);
  const t0 = Date.now();
  m.client.proxy!.signal('SIGTERM');
  const done = await c.waitForEvent<{ event: string; body: string }>((e) => e.event === 'done', 10_000);
  assert.equal(done.body, 'slow\n');
  assert.ok(c.events().some((e) => e.event === 'goaway'), 'the client was told GOAWAY');
  await m.client.proxy!.wait(10_000);
  assert.ok(Date.now() - t0 < 8000, `proxy took ${Date.now() - t0}ms to drain (grace is 25s)`);
  await c.stop(500);
});
