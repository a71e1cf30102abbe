/**
 * HTTP/1 transparency in network-namespace pods: a client pod and a server pod, each with
 * `linnet init` iptables and a proxy, so every request crosses the outbound and the inbound
 * proxy. Real peers: curl, nginx (one worker) as an upstream, a node app that hashes uploads, a
 * `ws` echo server and client, and a raw client for pipelining and smuggling. Each test checks
 * what reached the other side and what both proxies' golden metrics counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, writeFileSync, mkdirSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { APP_UID, logsOnFailure, meshSkipReason, sum, type Pod, type PodProcess, type Sample } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';
import { writeNginxConf } from './http1/nginx';

const POD_APP = join(__dirname, 'http1', 'pod-app.js');
/** Bulk size of each transfer: 1 GiB (3 transfers took 31 s on the shared 2-core box); LINNET_TEST_BULK_MB overrides. */
const BULK = Number(process.env.LINNET_TEST_BULK_MB ?? 1024) * 1024 * 1024;
/** Headroom over idle RSS for a bulk transfer: far below the transfer's size. */
const RSS_BOUND = 64 * 1024 * 1024;

function toolsMissing(): string | undefined {
  for (const t of ['curl', 'nginx']) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t}`;
  return undefined;
}
const skip = meshSkipReason() ?? toolsMissing();

let mesh: Mesh | undefined;
let app: PodProcess | undefined;
let dir = '';
let bigSha = '';
const NGINX = 8080;
const APP = 8081;
const WS = 8082;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

before(async () => {
  if (skip) return;
  mesh = await createMesh();
  const { cluster, server } = mesh;
  dir = join(cluster.logDir, 'http1');
  const site = writeNginxConf(
    dir,
    `    listen ${NGINX};
    location = /hello { return 200 "hello from nginx\\n"; }
    location = /nocontent { return 204; }
    location /files/ { alias ${dir}/files/; etag on; }`,
  );
  writeFileSync(join(dir, 'files', 'small.txt'), 'small file\n');
  // The bulk file: pseudo-random, written in blocks (one 1 GiB Buffer would be a memory spike here).
  const fd = openSync(join(dir, 'files', 'big.bin'), 'w');
  const block = Buffer.alloc(1 << 20);
  for (let off = 0; off < BULK; off += block.length) writeSync(fd, randomFillSync(block));
  closeSync(fd);
  bigSha = await sha256File(join(dir, 'files', 'big.bin'));
  mkdirSync(join(dir, 'body'), { recursive: true });
  server.spawn('nginx', ['-c', site.conf], { name: 'nginx' });
  app = server.spawn(process.execPath, [POD_APP, 'serve', String(APP), String(WS)], { uid: APP_UID, name: 'h1-app' });
  await app.waitForEvent((e) => e.event === 'listening');
  await eventually(async () => {
    const r = await server.run('curl', ['-sS', `http://127.0.0.1:${NGINX}/hello`]);
    assert.equal(r.stdout, 'hello from nginx\n');
  }, 10_000);
});
after(async () => {
  await mesh?.cluster.destroy();
  // The logs stay for debugging; the bulk file does not.
  if (dir) rmSync(join(dir, 'files'), { recursive: true, force: true });
});

const it = (name: string, body: (m: Mesh) => Promise<void>, timeout = 60_000) =>
  test(name, { skip, timeout }, logsOnFailure(() => mesh?.cluster, () => body(mesh!)));

async function curl(pod: Pod, args: string[], timeoutMs = 60_000) {
  return pod.run('curl', ['-sS', ...args], { uid: APP_UID, timeoutMs });
}

function golden(s: Sample[], direction: string, authority: string, extra: Record<string, string> = {}) {
  return {
    requests: sum(s, 'request_total', { direction, authority }),
    responses: sum(s, 'response_total', { direction, authority, ...extra }),
    latencyCount: sum(s, 'response_latency_ms_count', { direction, authority }),
  };
}

it('curl to nginx: GET, HEAD, 204, 304 through both proxies on one kept-alive connection; metrics both ways', async ({ client, server }) => {
  const base = `http://${server.ip}:${NGINX}`;
  const r = await curl(client, [
    '-v',
    '-w', '|%{http_code}|%{size_download}\\n',
    `${base}/hello`,
    `${base}/nocontent`,
    `${base}/files/small.txt`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hello from nginx\n\|200\|17/);
  assert.match(r.stdout, /\|204\|0/);
  assert.match(r.stdout, /small file\n\|200\|11/);
  assert.match(r.stderr, /Re-using existing connection/i, 'curl kept its connection through the proxies');
  const etag = /etag: (".*?")/i.exec(r.stderr)![1]!;
  const head = await curl(client, ['-I', `${base}/files/small.txt`]);
  assert.match(head.stdout, /^HTTP\/1\.1 200 OK/);
  assert.match(head.stdout, /content-length: 11/i);
  const notMod = await curl(client, ['-w', '%{http_code}|%{size_download}', '-o', '/dev/null', '-H', `If-None-Match: ${etag}`, `${base}/files/small.txt`]);
  assert.equal(notMod.stdout, '304|0');

  const authority = `${server.ip}:${NGINX}`;
  await eventually(async () => {
    const [o, i] = await Promise.all([client.metrics(), server.metrics()]);
    for (const [s, dir] of [[o, 'outbound'], [i, 'inbound']] as const) {
      assert.deepEqual(golden(s, dir, authority), { requests: 5, responses: 5, latencyCount: 5 }, dir);
      assert.equal(sum(s, 'response_total', { direction: dir, authority, status_code: '200', classification: 'success' }), 3);
      assert.equal(sum(s, 'response_total', { direction: dir, authority, status_code: '204' }), 1);
      assert.equal(sum(s, 'response_total', { direction: dir, authority, status_code: '304' }), 1);
    }
    // The inbound proxy dialled nginx once for the three kept-alive requests of the first curl.
    assert.ok(sum(i, 'tcp_open_total', { direction: 'inbound', peer: 'dst', target_addr: authority }) <= 3);
  });
});

it('HTTP/1.0 client (curl -0) is answered and closed', async ({ client, server }) => {
  const r = await curl(client, ['-0', '-v', `http://${server.ip}:${NGINX}/hello`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello from nginx\n');
  assert.match(r.stderr, /> GET \/hello HTTP\/1\.0/);
});

it('Expect: 100-continue: curl gets 100 Continue and the body arrives whole', async ({ client, server }) => {
  const body = join(dir, 'files', 'small-upload.bin');
  writeFileSync(body, Buffer.alloc(200_000, 3));
  const r = await curl(client, ['-v', '-H', 'Expect: 100-continue', '--data-binary', `@${body}`, `http://${server.ip}:${APP}/continue`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /HTTP\/1\.1 100 Continue/);
  const rep = JSON.parse(r.stdout) as { bytes: number; sha256: string; headers: Record<string, string> };
  assert.equal(rep.bytes, 200_000);
  assert.equal(rep.sha256, createHash('sha256').update(Buffer.alloc(200_000, 3)).digest('hex'));
  assert.equal(rep.headers.expect, '100-continue');
});

it(`bulk: ${BULK >> 20} MiB upload (content-length and chunked) and download pass intact with flat proxy RSS`, async ({ client, server }) => {
  const idle = { client: client.rss().rss, server: server.rss().rss };
  const peak = { ...idle };
  const sampler = setInterval(() => {
    for (const [n, p] of [['client', client], ['server', server]] as const) {
      try {
        peak[n] = Math.max(peak[n], p.rss().rss);
      } catch {
        // proxy gone: the transfer's assertions say so
      }
    }
  }, 50);
  const file = join(dir, 'files', 'big.bin');
  const t0 = Date.now();
  try {
    const up = await curl(client, ['-T', file, `http://${server.ip}:${APP}/upload-length`], 300_000);
    assert.equal(up.code, 0, up.stderr);
    const rep = JSON.parse(up.stdout) as { bytes: number; sha256: string; headers: Record<string, string> };
    assert.equal(rep.bytes, BULK);
    assert.equal(rep.sha256, bigSha);
    assert.equal(rep.headers['content-length'], String(BULK));

    const upc = await curl(client, ['-T', file, '-H', 'Transfer-Encoding: chunked', `http://${server.ip}:${APP}/upload-chunked`], 300_000);
    assert.equal(upc.code, 0, upc.stderr);
    const repc = JSON.parse(upc.stdout) as { bytes: number; sha256: string; headers: Record<string, string> };
    assert.equal(repc.headers['transfer-encoding'], 'chunked');
    assert.equal(repc.bytes, BULK);
    assert.equal(repc.sha256, bigSha);

    const down = await client.run('sh', ['-c', `curl -sS http://${server.ip}:${NGINX}/files/big.bin | sha256sum`], { uid: APP_UID, timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.split(' ')[0], bigSha);
  } finally {
    clearInterval(sampler);
  }
  const secs = (Date.now() - t0) / 1000;
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  process.stderr.write(`# 3×${BULK >> 20} MiB in ${secs.toFixed(1)}s; proxy RSS idle→peak: client ${mb(idle.client)}→${mb(peak.client)}, server ${mb(idle.server)}→${mb(peak.server)}\n`);
  for (const n of ['client', 'server'] as const) assert.ok(peak[n] < idle[n] + RSS_BOUND, `${n} proxy RSS peaked at ${mb(peak[n])} (idle ${mb(idle[n])})`);
}, 600_000);

it('WebSocket through both proxies: text, binary, ping/pong and the close code', async ({ client, server }) => {
  const r = await client.run(process.execPath, [POD_APP, 'ws', `ws://${server.ip}:${WS}/chat`], { uid: APP_UID, timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(rep, { event: 'ws', text: 'hello text', textBinary: false, binaryEqual: true, binBinary: true, pong: 'ping-data', code: 4000, reason: 'bye from server' });
  await eventually(async () => {
    const o = await client.metrics();
    assert.equal(sum(o, 'response_total', { direction: 'outbound', authority: `${server.ip}:${WS}`, status_code: '101' }), 1);
  });
});

async function rawSend(pod: Pod, to: string, port: number, payload: string) {
  const r = await pod.run(process.execPath, [POD_APP, 'raw', to, String(port), Buffer.from(payload, 'latin1').toString('base64')], { uid: APP_UID, timeoutMs: 10_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { data: string; closed: boolean; error: string };
}

it('pipelined requests are answered in order through both proxies', async ({ client, server }) => {
  const host = `${server.ip}:${APP}`;
  const reqs = [1, 2, 3].map((i) => `GET /pipe${i} HTTP/1.1\r\nHost: ${host}\r\n${i === 3 ? 'Connection: close\r\n' : ''}\r\n`).join('');
  const r = await rawSend(client, server.ip, APP, reqs);
  assert.deepEqual([...r.data.matchAll(/"url":"(\/pipe\d)"/g)].map((m) => m[1]), ['/pipe1', '/pipe2', '/pipe3']);
  assert.ok(r.closed);
});

it('smuggling: CL+TE and duplicate CL get 400 from the client proxy and the app sees nothing', async ({ client, server }) => {
  const host = `${server.ip}:${APP}`;
  const before = app!.events().filter((e) => e.event === 'request').length;
  const a = await rawSend(client, server.ip, APP, `POST /smuggle1 HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assert.match(a.data, /^HTTP\/1\.1 400 Bad Request\r\nl5d-proxy-error: invalid HTTP request: Content-Length together with Transfer-Encoding/);
  assert.ok(a.closed);
  const b = await rawSend(client, server.ip, APP, `GET /ok HTTP/1.1\r\nHost: ${host}\r\n\r\nPOST /smuggle2 HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc`);
  assert.match(b.data, /"url":"\/ok"/);
  assert.match(b.data, /HTTP\/1\.1 400 Bad Request/);
  await new Promise((r) => setTimeout(r, 300));
  const urls = app!.events<{ event: string; url: string }>().filter((e) => e.event === 'request').slice(before).map((e) => e.url);
  assert.deepEqual(urls, ['/ok'], 'the app saw exactly one request');
  await eventually(async () => {
    const o = await client.metrics();
    assert.equal(sum(o, 'response_total', { direction: 'outbound', status_code: '400', classification: 'success' }), 2);
  });
});

it('an upstream reset mid-response: curl sees a cut body and both proxies count a failure', async ({ client, server }) => {
  const r = await curl(client, ['-o', '/dev/null', '-w', '%{http_code}|%{size_download}', `http://${server.ip}:${APP}/reset-mid`]);
  assert.notEqual(r.code, 0, 'curl must not see a complete response');
  const [code, size] = r.stdout.split('|');
  assert.equal(code, '200');
  assert.ok(Number(size) < 1_000_000);
  const authority = `${server.ip}:${APP}`;
  await eventually(async () => {
    const [o, i] = await Promise.all([client.metrics(), server.metrics()]);
    assert.ok(sum(i, 'response_total', { direction: 'inbound', authority, classification: 'failure' }) >= 1);
    assert.ok(sum(o, 'response_total', { direction: 'outbound', authority, classification: 'failure' }) >= 1);
  });
});

it('502 with l5d-proxy-error when nothing listens on the target port', async ({ client, server }) => {
  const r = await curl(client, ['-i', `http://${server.ip}:8099/`]);
  assert.match(r.stdout, /^HTTP\/1\.1 502 Bad Gateway/);
  assert.match(r.stdout, /l5d-proxy-error: connection refused/);
});

it('h2load --h1: 2000 requests over 20 connections, all 2xx, counted exactly', async ({ client, server }) => {
  if (spawnSync('sh', ['-c', 'command -v h2load']).status !== 0) return;
  const r = await client.run('h2load', ['--h1', '-n', '2000', '-c', '20', '-m', '1', `http://${server.ip}:${NGINX}/hello?load`], { uid: APP_UID, timeoutMs: 60_000 });
  assert.match(r.stdout, /status codes: 2000 2xx/, r.stdout);
  await eventually(async () => {
    const i = await server.metrics();
    assert.ok(sum(i, 'response_total', { direction: 'inbound', authority: `${server.ip}:${NGINX}`, status_code: '200' }) >= 2000);
  });
});
