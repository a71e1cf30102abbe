/**
 * The HTTP/2 engine (proxy/protocol/h2/) against peers nobody here wrote, on loopback, each peer a
 * real process: curl --http2-prior-knowledge, nghttp, h2load (nghttp2-client), nghttpd
 * (nghttp2-server, --no-tls) and Python's h2 (python3-h2: test/support/h2-peers/client.py and
 * server.py). Two arrangements:
 *
 * - the proxy (the outbound stack on loopback, as http2-loopback runs it) between an independent
 *   client and an independent server: both of the engine's roles at once;
 * - our H2Connection alone: a small server on it (ourServer below, the same routes as server.py)
 *   for the independent clients, and our client role (ourClient) against nghttpd and server.py.
 *
 * Every check compares bytes (SHA-256 of bodies made by gen(), the same bytes Python makes),
 * header values, trailers and reset codes, never only an exit status. Python's h2 also raises
 * on any frame of ours that breaks a window, a table size or the frame rules, which the checks
 * then see as a missing response. Skipped when the peers are not installed
 * (.ci/setup-debian installs them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPrefix } from '../proxy/accept/read-prefix';
import { loadProxyConfig } from '../proxy/runtime/config';
import { H2Connection } from '../proxy/protocol/h2/connection';
import type { H2Stream } from '../proxy/protocol/h2/stream';
import { H2Code } from '../proxy/protocol/h2/grpc-status';
import { fieldValue } from '../proxy/protocol/h2/headers';
import type { Fields } from '../proxy/protocol/h2/semantics';
import type { H2Settings } from '../proxy/protocol/h2/settings';
import { H2, loopbackProxy } from './support/stacks';

const PY = '/usr/bin/python3';
const PEERS = join(__dirname, '..', '..', 'test', 'support', 'h2-peers');
const have = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const missing = [
  ...(have('curl', ['--version']) ? [] : ['curl']),
  ...(have('nghttp', ['--version']) ? [] : ['nghttp']),
  ...(have('nghttpd', ['--version']) ? [] : ['nghttpd']),
  ...(have('h2load', ['--version']) ? [] : ['h2load']),
  ...(have(PY, ['-c', 'import h2']) ? [] : ['python3-h2']),
];
const skip = missing.length > 0 ? `not installed: ${missing.join(', ')} (bash .ci/setup-debian)` : false;

const SIZES = [0, 1, 16383, 16384, 16385, 1024 * 1024 + 1];
const BIG_HEADER = 20_000;

// ---- bytes both sides can make ----

const genCache = new Map<string, Buffer>();
/** SHA-256("seed:k") for k = 0, 1, ... cut to n bytes: what peer.py's gen makes. */
function gen(n: number, seed: string): Buffer {
  const key = `${seed}/${n}`;
  const hit = genCache.get(key);
  if (hit) return hit;
  const parts: Buffer[] = [];
  for (let k = 0, len = 0; len < n; k++, len += 32) parts.push(createHash('sha256').update(`${seed}:${k}`).digest());
  const out = Buffer.concat(parts).subarray(0, n);
  genCache.set(key, out);
  return out;
}
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const bigValue = (n: number) => gen(n / 2, 'big').toString('hex');
/** Counts of each byte value: nghttp -m writes the bodies of concurrent streams interleaved, as their DATA arrives. */
function histogram(b: Buffer): number[] {
  const h = new Array<number>(256).fill(0);
  for (const x of b) h[x]!++;
  return h;
}
function sameBodies(out: Buffer, body: Buffer, times: number): boolean {
  const want = histogram(body);
  return out.length === body.length * times && histogram(out).every((n, i) => n === want[i]! * times);
}

// ---- the matrix, printed at the end ----

const passed = new Map<string, Set<string>>();
function pass(peer: string, what: string): void {
  if (!passed.has(peer)) passed.set(peer, new Set());
  passed.get(peer)!.add(what);
}

// ---- processes ----

const children = new Set<ChildProcess>();
interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const c = execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      children.delete(c);
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr: stderr.toString() });
    });
    children.add(c);
  });
}

interface PyServer {
  port: number;
  events: Record<string, unknown>[];
  stop(): void;
}
async function pyServer(opts: Record<string, unknown> = {}): Promise<PyServer> {
  const c = spawn(PY, [join(PEERS, 'server.py'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  const events: Record<string, unknown>[] = [];
  let buf = '';
  let stderr = '';
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        if (typeof line.port === 'number') resolve(line.port);
        else events.push(line);
      }
    });
    c.on('exit', () => reject(new Error(`server.py exited: ${stderr}`)));
  });
  return {
    port,
    events,
    stop: () => {
      c.kill();
      children.delete(c);
    },
  };
}

interface PyResult {
  status: string | null;
  headers: [string, string][] | null;
  trailers: [string, string][] | null;
  reset: number | null;
  reset_sent?: number;
  body_len: number;
  body_sha: string;
  body?: string;
  sent_sha?: string;
  sent_len?: number;
}
interface PyOut {
  steps: (PyResult[] | Record<string, unknown>)[];
  goaway: { code: number; last: number } | null;
  errors: string[];
}
async function pyClient(port: number, steps: unknown[], opts: Record<string, unknown> = {}): Promise<PyOut> {
  const r = await run(PY, [join(PEERS, 'client.py'), JSON.stringify({ port, opts, steps, timeout: 30 })]);
  const text = r.stdout.toString();
  const last = text.trim().split('\n').pop() ?? '';
  assert.equal(r.code, 0, `client.py failed: ${r.stderr}\n${text.slice(0, 2000)}`);
  const out = JSON.parse(last) as PyOut;
  assert.deepEqual(out.errors, [], `client.py: ${JSON.stringify(out.errors)} ${text.slice(0, 1000)}`);
  return out;
}
const hv = (h: [string, string][] | null | undefined, name: string) => h?.find(([n]) => n === name)?.[1];

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return p;
}
async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

const htdocs = mkdtempSync(join(tmpdir(), 'linnet-h2interop-'));
async function nghttpd(extra: string[] = []): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const c = spawn('nghttpd', ['--no-tls', '-d', htdocs, '--echo-upload', '--trailer', 'x-trailer: nghttpd', '-a', '127.0.0.1', ...extra, String(port)], { stdio: 'ignore' });
  children.add(c);
  await waitListening(port);
  return {
    port,
    stop: () => {
      c.kill();
      children.delete(c);
    },
  };
}

// ---- the proxy in between ----

const lp = loopbackProxy();
const settings: H2Settings = loadProxyConfig({}).http2;
const servers = new Set<Server>();

/** A loopback listener whose every connection the outbound stack proxies as h2 to 127.0.0.1:port. */
async function proxyTo(port: number): Promise<number> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    lp.open.track(sock);
    void readPrefix(sock, 1000).then((p) => {
      assert.equal(p.outcome.kind, 'detected');
      return lp.serve('outbound', sock, H2, port, '127.0.0.1', undefined, p.bytes);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.add(server);
  return (server.address() as AddressInfo).port;
}

// ---- our engine alone: a server and a client on H2Connection ----

interface OurServer {
  port: number;
  resets: { path: string; code: number }[];
  conns: H2Connection[];
}
/** The routes of server.py, served by our H2Connection in the server role. */
async function ourServer(s: H2Settings = settings): Promise<OurServer> {
  const out: OurServer = { port: 0, resets: [], conns: [] };
  let nconn = 0;
  const server = createServer((sock) => {
    const cid = ++nconn;
    sock.on('error', () => {});
    const conn: H2Connection = new H2Connection(sock, { role: 'server', settings: s }, { onStream: (stream, fields, end) => serveStream(conn, cid, stream, fields, end, out) });
    out.conns.push(conn);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.add(server);
  out.port = (server.address() as AddressInfo).port;
  return out;
}

function serveStream(conn: H2Connection, cid: number, stream: H2Stream, req: Fields, endStream: boolean, out: OurServer): void {
  const path = fieldValue(req, ':path') ?? '';
  const body: Buffer[] = [];
  let trailers: Fields = [];
  const respond = (head: Fields, data?: Buffer, tr?: Fields) => {
    if (stream.closed) return;
    const h: Fields = [':status', ...head, 'x-conn', String(cid)];
    for (let i = 0; i < req.length; i += 2) if (req[i]!.startsWith('x-rep-')) h.push(req[i]!, req[i + 1]!);
    const big = fieldValue(req, 'x-big');
    if (big !== undefined) h.push('x-big-len', String(big.length), 'x-big-sha', sha(big));
    const bodyless = (data === undefined || data.length === 0) && tr === undefined;
    stream.sendHeaders(h, bodyless);
    if (bodyless) return;
    if (data && data.length > 0) stream.sendData(data, tr === undefined);
    if (tr) stream.sendTrailers(tr);
    else if (!data || data.length === 0) stream.end();
  };
  const [route = '', arg = ''] = path.split('?')[0]!.replace(/^\//, '').split('/');
  const done = () => {
    const all = Buffer.concat(body);
    if (route === 'bytes') {
      const b = gen(Number(arg), 'down');
      respond(['200', 'content-length', String(b.length), 'x-body-sha', sha(b)], b, path.includes('trailers=1') ? ['x-sha', sha(b), 'x-end', 'done'] : undefined);
    } else if (route === 'echo') {
      const tr: string[][] = [];
      for (let i = 0; i < trailers.length; i += 2) tr.push([trailers[i]!, trailers[i + 1]!]);
      respond(['200', 'x-req-sha', sha(all), 'x-req-len', String(all.length), 'x-req-trailers', JSON.stringify(tr)], all, ['x-sha', sha(all), 'x-end', 'done']);
    } else if (route === 'big-response') respond(['200', 'x-big-resp', bigValue(Number(arg))], Buffer.from('ok'));
    else if (route === 'slow') setTimeout(() => respond(['200'], Buffer.from('slow')), Number(arg));
    else if (route === 'goaway') {
      respond(['200'], Buffer.from('bye'));
      conn.close();
    } else if (route === 'rst') stream.reset(Number(arg));
    else if (route === 'rst-mid') {
      stream.sendHeaders([':status', '200', 'x-conn', String(cid)]);
      stream.sendData(gen(1000, 'mid'));
      setTimeout(() => stream.reset(Number(arg)), 50);
    } else if (route === 'hang') {
      // never answers
    } else respond(['200'], Buffer.from(`ok ${path}`));
  };
  stream.events = {
    onHeaders: (f, end, kind) => {
      if (kind === 'trailers') trailers = f;
      if (end) done();
    },
    onData: (c, end) => {
      body.push(c);
      if (end) done();
    },
    onReset: (code) => out.resets.push({ path, code }),
    onDrain: () => {},
    onClose: () => {},
  };
  if (endStream) done();
}

interface OurRes {
  informational: Fields[];
  headers: Fields | undefined;
  body: Buffer;
  trailers: Fields | undefined;
  reset: number | undefined;
}
async function ourClient(port: number, s: H2Settings = settings): Promise<{ conn: H2Connection; goaway: { code: number; last: number }[]; closed: Promise<void> }> {
  const sock = netConnect(port, '127.0.0.1');
  sock.on('error', () => {});
  await once(sock, 'connect');
  const goaway: { code: number; last: number }[] = [];
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  const conn = new H2Connection(sock, { role: 'client', settings: s }, { onConnect: () => connected(), onGoaway: (code, last) => goaway.push({ code, last }), onClose: () => closedResolve() });
  await ready;
  return { conn, goaway, closed };
}
function ourRequest(conn: H2Connection, path: string, opts: { method?: string; headers?: Fields; body?: Buffer; trailers?: Fields } = {}): Promise<OurRes> {
  return new Promise((resolve) => {
    const res: OurRes = { informational: [], headers: undefined, body: Buffer.alloc(0), trailers: undefined, reset: undefined };
    const chunks: Buffer[] = [];
    const hasBody = opts.body !== undefined || opts.trailers !== undefined;
    const fields: Fields = [':method', opts.method ?? (hasBody ? 'POST' : 'GET'), ':scheme', 'http', ':authority', 'interop.test', ':path', path, ...(opts.headers ?? [])];
    const st = conn.request(fields, !hasBody, {
      onHeaders: (f, _end, kind) => {
        if (kind === 'informational') res.informational.push(f);
        else if (kind === 'final') res.headers = f;
        else if (kind === 'trailers') res.trailers = f;
      },
      onData: (c) => chunks.push(c),
      onReset: (code) => (res.reset = code),
      onDrain: () => {},
      onClose: () => {
        res.body = Buffer.concat(chunks);
        resolve(res);
      },
    });
    if (hasBody) {
      if (opts.body && opts.body.length > 0) st.sendData(opts.body, opts.trailers === undefined);
      if (opts.trailers) st.sendTrailers(opts.trailers);
      else if (!opts.body || opts.body.length === 0) st.end();
    }
  });
}

// ---- the peers the cases run against ----

/** What a client may be pointed at: a name for the table and a port. */
interface Target {
  name: string;
  port: number;
  /** server.py's routes (the Python server or ours), not nghttpd's files. */
  routes: boolean;
  events?: Record<string, unknown>[];
}
let pyUp: PyServer;
let ngUp: { port: number; stop(): void };
let ours: OurServer;
const targets: Target[] = [];

before(async () => {
  if (skip) return;
  mkdirSync(join(htdocs, 'bytes'));
  for (const n of SIZES) writeFileSync(join(htdocs, 'bytes', String(n)), gen(n, 'down'));
  pyUp = await pyServer();
  ngUp = await nghttpd();
  ours = await ourServer();
  targets.push(
    { name: 'proxy→python-h2', port: await proxyTo(pyUp.port), routes: true, events: pyUp.events },
    { name: 'proxy→nghttpd', port: await proxyTo(ngUp.port), routes: false },
    { name: 'H2Connection server', port: ours.port, routes: true },
  );
});

after(() => {
  for (const s of servers) s.close();
  lp.close();
  for (const c of children) c.kill();
  rmSync(htdocs, { recursive: true, force: true });
  const lines = [...passed].map(([peer, cases]) => `#   ${peer}: ${[...cases].join(', ')}`);
  process.stdout.write(`# h2 interop, passed:\n${lines.join('\n')}\n`);
});

const url = (t: Target, path: string) => `http://127.0.0.1:${t.port}${path}`;
const tmp = (name: string) => join(htdocs, `${process.pid}-${name}`);

describe('independent clients: curl, nghttp, h2load, Python h2', { skip }, () => {
  test('bodies of 0, 1, 16383, 16384, 16385 and 1 MiB+1 both ways, by SHA-256', { timeout: 120_000 }, async () => {
    for (const t of targets) {
      for (const n of SIZES) {
        const want = sha(gen(n, 'down'));
        // curl: download, then upload (echoed back by every target).
        const o = tmp('curl-body');
        const d = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', o, url(t, `/bytes/${n}`)]);
        assert.equal(d.code, 0, `curl ${t.name} ${n}: ${d.stderr}`);
        assert.equal(sha(readFileSync(o)), want, `curl download ${n} via ${t.name}`);
        const up = gen(n, `up${n}`);
        writeFileSync(tmp('up'), up);
        const u = await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', `@${tmp('up')}`, '-D', tmp('curl-h'), '-o', o, url(t, '/echo')]);
        assert.equal(u.code, 0, `curl upload ${t.name} ${n}: ${u.stderr}`);
        assert.equal(sha(readFileSync(o)), sha(up), `curl upload ${n} echoed via ${t.name}`);
        if (t.routes) assert.match(readFileSync(tmp('curl-h'), 'latin1'), new RegExp(`x-req-sha: ${sha(up)}`));
        // nghttp: download to stdout, upload with -d.
        const nd = await run('nghttp', [url(t, `/bytes/${n}`)]);
        assert.equal(nd.code, 0, nd.stderr);
        assert.equal(sha(nd.stdout), want, `nghttp download ${n} via ${t.name}`);
        const nu = await run('nghttp', ['-d', tmp('up'), url(t, '/echo')]);
        assert.equal(nu.code, 0, nu.stderr);
        assert.equal(sha(nu.stdout), sha(up), `nghttp upload ${n} via ${t.name}`);
      }
      pass('curl', `bodies (${t.name})`);
      pass('nghttp', `bodies (${t.name})`);
      // Python h2: all sizes at once on one connection, both ways.
      const reqs = SIZES.flatMap((n) => [{ path: `/bytes/${n}` }, { path: '/echo', body: n, seed: `py${n}` }]);
      const out = await pyClient(t.port, [{ requests: reqs }]);
      const res = out.steps[0] as PyResult[];
      for (const [i, n] of SIZES.entries()) {
        const dl = res[2 * i]!;
        const ul = res[2 * i + 1]!;
        assert.equal(dl.status, '200');
        assert.equal(dl.body_sha, sha(gen(n, 'down')), `python download ${n} via ${t.name}`);
        assert.equal(ul.status, '200');
        assert.equal(ul.sent_sha, sha(gen(n, `py${n}`)));
        assert.equal(ul.body_sha, ul.sent_sha, `python upload ${n} via ${t.name}`);
        if (t.routes) assert.equal(hv(ul.headers, 'x-req-sha'), ul.sent_sha);
      }
      pass('python-h2 client', `bodies (${t.name})`);
    }
  });

  test('trailers: request trailers arrive, response trailers arrive', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [
        { requests: [{ path: '/echo', body: 30000, seed: 'tr', trailers: [['x-req-t', 'one'], ['grpc-status', '0']] }, { path: t.routes ? '/bytes/16385?trailers=1' : '/bytes/16385' }] },
      ]);
      const [echo, dl] = out.steps[0] as PyResult[];
      assert.equal(echo!.body_sha, echo!.sent_sha);
      if (t.routes) {
        assert.deepEqual(JSON.parse(hv(echo!.headers, 'x-req-trailers')!), [['x-req-t', 'one'], ['grpc-status', '0']], `request trailers via ${t.name}`);
        assert.deepEqual(echo!.trailers, [['x-sha', echo!.sent_sha], ['x-end', 'done']]);
        assert.deepEqual(dl!.trailers, [['x-sha', sha(gen(16385, 'down'))], ['x-end', 'done']]);
      } else {
        assert.deepEqual(echo!.trailers, [['x-trailer', 'nghttpd']], `nghttpd's response trailers via ${t.name}`);
        assert.deepEqual(dl!.trailers, [['x-trailer', 'nghttpd']]);
      }
      pass('python-h2 client', `trailers both ways (${t.name})`);
      // nghttp sends request trailers (--trailer) and prints the response's with -v.
      writeFileSync(tmp('tr'), gen(5000, 'ngtr'));
      const n = await run('nghttp', ['-v', '-n', '--trailer', 'x-req-t: from-nghttp', '-d', tmp('tr'), url(t, t.routes ? '/echo' : '/echo')]);
      assert.equal(n.code, 0, n.stderr);
      const text = n.stdout.toString('latin1');
      if (t.routes) {
        assert.match(text, /x-req-trailers: \[\["x-req-t", "from-nghttp"\]\]|x-req-trailers: \[\["x-req-t","from-nghttp"\]\]/, `nghttp's request trailer via ${t.name}`);
        assert.match(text, new RegExp(`recv \\(stream_id=\\d+\\) x-sha: ${sha(gen(5000, 'ngtr'))}`));
      } else assert.match(text, /recv \(stream_id=\d+\) x-trailer: nghttpd/);
      pass('nghttp', `trailers both ways (${t.name})`);
    }
  });

  test('100 concurrent streams on one connection', { timeout: 120_000 }, async () => {
    for (const t of targets) {
      // h2load: 1000 requests over one connection, 100 streams at a time; every byte counted.
      const h = await run('h2load', ['-n', '1000', '-c', '1', '-m', '100', url(t, '/bytes/16385')]);
      const text = h.stdout.toString();
      assert.equal(h.code, 0, text + h.stderr);
      assert.match(text, /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored, 0 timeout/, `h2load via ${t.name}:\n${text}`);
      assert.match(text, /status codes: 1000 2xx/);
      // "traffic: 15.64MB (16403069) total, 3.00KB (3069) headers (...), 15.63MB (16385000) data"
      assert.equal(/traffic: .*\((\d+)\) data/.exec(text)?.[1], String(1000 * 16385), `h2load counted the body bytes via ${t.name}:\n${text}`);
      pass('h2load', `100 concurrent streams, 1000 requests (${t.name})`);
      // Python h2: 100 uploads at once, each body distinct, each echoed byte for byte.
      const reqs = Array.from({ length: 100 }, (_, i) => ({ path: '/echo', body: 1000 + i * 997, seed: `c${i}` }));
      const out = await pyClient(t.port, [{ requests: reqs }]);
      for (const [i, r] of (out.steps[0] as PyResult[]).entries()) {
        assert.equal(r.status, '200', `stream ${i} via ${t.name}`);
        assert.equal(r.body_sha, sha(gen(1000 + i * 997, `c${i}`)), `stream ${i} via ${t.name}`);
      }
      pass('python-h2 client', `100 concurrent streams (${t.name})`);
      // nghttp: the same URI 100 times at once (-m), with its PRIORITY tree.
      const n = await run('nghttp', ['-m', '100', url(t, '/bytes/16383')]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(sameBodies(n.stdout, gen(16383, 'down'), 100), `nghttp -m 100 via ${t.name}`);
      pass('nghttp', `100 concurrent streams (${t.name})`);
    }
  });

  test('a header block larger than 16 KiB both ways (CONTINUATION)', { timeout: 60_000 }, async () => {
    const big = bigValue(BIG_HEADER);
    for (const t of targets.filter((x) => x.routes)) {
      const out = await pyClient(t.port, [{ requests: [{ path: `/big-response/${BIG_HEADER}`, headers: [['x-big', big]] }] }]);
      const r = (out.steps[0] as PyResult[])[0]!;
      assert.equal(r.status, '200');
      assert.equal(hv(r.headers, 'x-big-sha'), sha(big), `request header block via ${t.name}`);
      assert.equal(hv(r.headers, 'x-big-resp'), big, `response header block via ${t.name}`);
      pass('python-h2 client', `>16 KiB header blocks both ways (${t.name})`);
      const c = await run('curl', ['-sS', '--http2-prior-knowledge', '-D', '-', '-o', '/dev/null', '-H', `x-big: ${big}`, url(t, `/big-response/${BIG_HEADER}`)]);
      assert.equal(c.code, 0, c.stderr);
      const ct = c.stdout.toString('latin1');
      assert.match(ct, new RegExp(`x-big-sha: ${sha(big)}`), `curl's request header block via ${t.name}`);
      assert.ok(ct.includes(`x-big-resp: ${big}\r\n`), `curl got the response header block via ${t.name}`);
      pass('curl', `>16 KiB header blocks both ways (${t.name})`);
      // nghttp --continuation: its own large header, split by nghttp2.
      const n = await run('nghttp', ['-v', '-n', '--continuation', '-H', `x-big: ${big}`, url(t, `/big-response/${BIG_HEADER}`)]);
      assert.equal(n.code, 0, n.stderr);
      const nt = n.stdout.toString('latin1');
      // (nghttp -v logs a header block as one frame; 20 KB cannot cross in one 16 KiB frame.)
      assert.ok(nt.includes(`x-big-sha: ${sha(big)}\n`), `nghttp's request header block via ${t.name}`);
      assert.ok(nt.includes(`x-big-resp: ${big}\n`), `nghttp got the response header block via ${t.name}`);
      pass('nghttp', `>16 KiB header blocks both ways (${t.name})`);
    }
  });

  test('a client with a 1024-byte stream window and a 4 KiB connection window: honoured, nothing lost', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const n = 1024 * 1024 + 1;
      const out = await pyClient(t.port, [{ requests: [{ path: `/bytes/${n}` }, { path: '/echo', body: 200_000, seed: 'win' }, { path: '/bytes/16385' }] }], { window: 1024, conn_window: 4096 });
      const [a, b, c] = out.steps[0] as PyResult[];
      assert.equal(a!.body_sha, sha(gen(n, 'down')), `1 MiB through small windows via ${t.name}`);
      assert.equal(b!.body_sha, sha(gen(200_000, 'win')));
      assert.equal(c!.body_sha, sha(gen(16385, 'down')));
      pass('python-h2 client', `small windows (${t.name})`);
      // nghttp2's own small windows: 2^10-1 per stream, 2^14-1 for the connection.
      const h = await run('h2load', ['-n', '20', '-c', '1', '-m', '10', '-w', '10', '-W', '14', url(t, `/bytes/${n}`)]);
      assert.match(h.stdout.toString(), /20 succeeded/, h.stdout.toString());
      const ng = await run('nghttp', ['-w', '10', '-W', '14', url(t, `/bytes/${n}`)]);
      assert.equal(sha(ng.stdout), sha(gen(n, 'down')));
      pass('h2load', `small windows (${t.name})`);
      pass('nghttp', `small windows (${t.name})`);
    }
  });

  test('SETTINGS_HEADER_TABLE_SIZE changed mid-connection, and the peer encoder resizing its table', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const batch = (k: number) => ({
        requests: Array.from({ length: 5 }, (_, i) => ({ path: t.routes ? `/echo?k=${k}` : '/echo', body: 10, seed: `t${k}${i}`, headers: [['x-rep-a', `value-${i % 2}`], ['x-rep-b', 'x'.repeat(100 + k)], ['x-rep-k', String(k)]] })),
      });
      const out = await pyClient(t.port, [
        batch(0),
        { settings: { header_table_size: 0 } },
        { encoder_table_size: 0 },
        batch(1),
        { settings: { header_table_size: 256 } },
        { encoder_table_size: 256 },
        batch(2),
        { settings: { header_table_size: 4096 } },
        { encoder_table_size: 4096 },
        batch(3),
      ]);
      for (const k of [0, 3, 6, 9]) {
        for (const [i, r] of (out.steps[k] as PyResult[]).entries()) {
          assert.equal(r.status, '200', `table change step ${k} via ${t.name}`);
          assert.equal(r.body_sha, r.sent_sha);
          if (t.routes) {
            const kk = String(k / 3);
            assert.equal(hv(r.headers, 'x-rep-a'), `value-${i % 2}`);
            assert.equal(hv(r.headers, 'x-rep-b'), 'x'.repeat(100 + Number(kk)));
            assert.equal(hv(r.headers, 'x-rep-k'), kk);
          }
        }
      }
      pass('python-h2 client', `HEADER_TABLE_SIZE 4096→0→256→4096 both ways (${t.name})`);
      // nghttp2's own: a decoder table of 0 (our encoder may index nothing) and its encoder at 256.
      const n = await run('nghttp', ['-c', '0', '--encoder-header-table-size', '256', '-m', '20', '-H', 'x-rep-a: same-every-time', url(t, '/bytes/16385')]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(sameBodies(n.stdout, gen(16385, 'down'), 20), `nghttp -c 0 via ${t.name}`);
      const h = await run('h2load', ['-n', '200', '-c', '1', '-m', '20', '--header-table-size', '0', '--encoder-header-table-size', '0', url(t, '/bytes/1')]);
      assert.match(h.stdout.toString(), /200 succeeded, 0 failed, 0 errored/, h.stdout.toString());
      pass('nghttp', `SETTINGS_HEADER_TABLE_SIZE 0 and its encoder at 256 (${t.name})`);
      pass('h2load', `SETTINGS_HEADER_TABLE_SIZE 0, its encoder at 0 (${t.name})`);
    }
  });

  test('padded HEADERS and DATA and PRIORITY frames from the client', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [{ requests: [{ path: '/echo', body: 100_000, seed: 'pad', trailers: [['x-t', '1']] }, { path: '/bytes/16385' }] }], { pad: 17, priority: true });
      const [e, d] = out.steps[0] as PyResult[];
      assert.equal(e!.status, '200');
      assert.equal(e!.body_sha, sha(gen(100_000, 'pad')), `padded upload via ${t.name}`);
      if (t.routes) assert.equal(hv(e!.headers, 'x-req-sha'), e!.sent_sha);
      assert.equal(d!.body_sha, sha(gen(16385, 'down')));
      pass('python-h2 client', `padded HEADERS/DATA + PRIORITY (${t.name})`);
      // nghttp's own padding (-b) and PRIORITY tree.
      writeFileSync(tmp('pad'), gen(40_000, 'ngpad'));
      const n = await run('nghttp', ['-b', '255', '-d', tmp('pad'), url(t, '/echo')]);
      assert.equal(sha(n.stdout), sha(gen(40_000, 'ngpad')));
      pass('nghttp', `padded HEADERS/DATA + PRIORITY (${t.name})`);
    }
  });

  test('PING is answered with its payload', { timeout: 30_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [{ ping: 'linnet!!' }, { requests: [{ path: '/bytes/1' }] }, { ping: '\u0000\u0001\u0002\u0003\u00fe\u00ff01' }]);
      assert.deepEqual(out.steps[0], { ping: 'linnet!!' });
      assert.deepEqual(out.steps[2], { ping: '\u0000\u0001\u0002\u0003\u00fe\u00ff01' });
      pass('python-h2 client', `PING (${t.name})`);
    }
  });

  test('RST_STREAM both ways', { timeout: 30_000 }, async () => {
    for (const t of targets.filter((x) => x.routes)) {
      const out = await pyClient(t.port, [
        { requests: [{ path: '/rst/11' }, { path: '/rst-mid/2' }, { path: '/hang?who=py', body: 50_000, seed: 'rst', reset_after_ms: 150, reset_code: 8 }, { path: '/bytes/16384' }] },
      ]);
      const [a, b, c, d] = out.steps[0] as PyResult[];
      assert.equal(a!.reset, 11, `server RST_STREAM ENHANCE_YOUR_CALM via ${t.name}`);
      assert.equal(b!.status, '200');
      assert.equal(b!.body_sha, sha(gen(1000, 'mid')), `body before the reset via ${t.name}`);
      assert.equal(b!.reset, 2, `server RST_STREAM INTERNAL_ERROR mid-body via ${t.name}`);
      assert.equal(c!.reset_sent, 8);
      assert.equal(d!.body_sha, sha(gen(16384, 'down')), 'the connection goes on');
      // The client's reset reaches the server with its code.
      const resets = () => (t.events ? t.events.filter((e) => e.event === 'reset').map((e) => ({ path: e.path, code: e.code })) : ours.resets);
      for (let i = 0; i < 50 && !resets().some((r) => r.path === '/hang?who=py'); i++) await sleep(20);
      assert.deepEqual(resets().filter((r) => r.path === '/hang?who=py'), [{ path: '/hang?who=py', code: 8 }], `client RST_STREAM CANCEL via ${t.name}`);
      pass('python-h2 client', `RST_STREAM both ways (${t.name})`);
      // curl sees the server's reset as an error naming the code.
      const c1 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', url(t, '/rst-mid/2')]);
      assert.equal(c1.code, 92, c1.stderr);
      assert.match(c1.stderr, /INTERNAL_ERROR \(err 2\)/);
      const n1 = await run('nghttp', ['-v', '-n', url(t, '/rst/11')]);
      assert.match(n1.stdout.toString(), /recv RST_STREAM frame[^\n]*\n\s*\(error_code=ENHANCE_YOUR_CALM\(0x0b\)\)/);
      pass('curl', `RST_STREAM from the server (${t.name})`);
      pass('nghttp', `RST_STREAM from the server (${t.name})`);
    }
  });

  test('GOAWAY from the server with streams in flight: they finish; new streams take a new connection', { timeout: 30_000 }, async () => {
    // The proxy's upstream connection receives Python h2's GOAWAY.
    const t = targets[0]!;
    const out = await pyClient(t.port, [
      { requests: [{ path: '/bytes/1?warm' }] },
      { requests: [{ path: '/slow/400?a' }, { path: '/slow/500?b' }, { path: '/goaway' }] },
      { requests: [{ path: '/bytes/16385?after1' }, { path: '/bytes/16385?after2' }] },
    ]);
    const [warm] = out.steps[0] as PyResult[];
    const [a, b, g] = out.steps[1] as PyResult[];
    const after = out.steps[2] as PyResult[];
    const conn = hv(warm!.headers, 'x-conn');
    assert.equal(g!.body, 'bye');
    assert.equal(a!.body, 'slow', 'an in-flight stream below the GOAWAY finishes');
    assert.equal(b!.body, 'slow');
    assert.equal(hv(a!.headers, 'x-conn'), conn);
    assert.equal(hv(b!.headers, 'x-conn'), conn);
    for (const r of after) {
      assert.equal(r.body_sha, sha(gen(16385, 'down')));
      assert.notEqual(hv(r.headers, 'x-conn'), conn, 'new streams go over a new connection');
    }
    assert.deepEqual(t.events!.filter((e) => e.event === 'after-goaway'), [], 'nothing was sent past the GOAWAY');
    assert.equal(out.goaway, null, 'the client connection to the proxy is not affected');
    pass('python-h2 server', 'GOAWAY with streams in flight (proxy upstream)');
    // GOAWAY whose last stream id is below streams the proxy sent: those were never processed,
    // so the proxy sends them again on a new connection (a small body replayed), and the stream
    // below the last one finishes on the old connection.
    const o3 = await pyClient(t.port, [
      { requests: [{ path: '/bytes/1?warm2' }] },
      { requests: [{ path: '/slow/300?c' }, { path: '/goaway-low/g1', body: 30_000, seed: 'gl' }, { path: '/goaway-low/g2' }] },
    ]);
    const conn3 = hv((o3.steps[0] as PyResult[])[0]!.headers, 'x-conn');
    const [slow3, g1, g2] = o3.steps[1] as PyResult[];
    assert.equal(slow3!.body, 'slow');
    assert.equal(hv(slow3!.headers, 'x-conn'), conn3, 'the stream below the GOAWAY finished where it was');
    assert.equal(g1!.body, 'retried', 'a stream past the GOAWAY was sent again');
    assert.equal(hv(g1!.headers, 'x-req-sha'), sha(gen(30_000, 'gl')), 'with its body');
    assert.notEqual(hv(g1!.headers, 'x-conn'), conn3);
    assert.equal(g2!.body, 'retried');
    pass('python-h2 server', 'GOAWAY naming a stream below ones in flight: those retried on a new connection (proxy upstream)');
    // Our server's GOAWAY (close()) with a stream in flight, to nghttp fetching both on one
    // connection. (Python's h2 4.1 takes no frame after a GOAWAY, and curl 7.88's --parallel fails
    // its second transfer against nghttpd too, so neither can be this client.)
    const before = ours.conns.length;
    const ourUrl = (p: string) => `http://127.0.0.1:${ours.port}${p}`;
    const n = await run('nghttp', ['-v', '--no-dep', ourUrl('/slow/300'), ourUrl('/goaway')]);
    const text = n.stdout.toString('latin1');
    assert.equal(n.code, 0, `nghttp: every request processed\n${text}`);
    assert.match(text, /recv GOAWAY frame <length=8, flags=0x00, stream_id=0>\n\s*\(last_stream_id=3, error_code=NO_ERROR\(0x00\)/);
    assert.ok(text.indexOf('recv GOAWAY') < text.indexOf('slow['), 'the stream in flight finished after the GOAWAY');
    assert.match(text, /bye\[/);
    assert.equal(ours.conns.length - before, 1, 'both on one connection');
    pass('nghttp', 'GOAWAY from H2Connection server with a stream in flight');
  });
});

describe('independent servers: nghttpd and Python h2, behind the proxy and against our client alone', { skip }, () => {
  test('our client alone: bodies both ways, trailers, 100 concurrent streams, big header blocks', { timeout: 120_000 }, async () => {
    for (const [name, port, routes] of [['python-h2 server', () => pyUp.port, true], ['nghttpd', () => ngUp.port, false]] as const) {
      const { conn } = await ourClient(port());
      for (const n of SIZES) {
        const d = await ourRequest(conn, `/bytes/${n}`);
        assert.equal(fieldValue(d.headers!, ':status'), '200');
        assert.equal(sha(d.body), sha(gen(n, 'down')), `download ${n} from ${name}`);
        const body = gen(n, `our${n}`);
        const u = await ourRequest(conn, '/echo', { body, trailers: ['x-req-t', 'ours'] });
        assert.equal(sha(u.body), sha(body), `upload ${n} to ${name}`);
        if (routes) {
          assert.equal(fieldValue(u.headers!, 'x-req-sha'), sha(body));
          assert.deepEqual(JSON.parse(fieldValue(u.headers!, 'x-req-trailers')!), [['x-req-t', 'ours']]);
          assert.deepEqual(u.trailers, ['x-sha', sha(body), 'x-end', 'done']);
        } else if (n > 0) assert.deepEqual(u.trailers, ['x-trailer', 'nghttpd']);
      }
      pass(name, 'bodies both ways, trailers (H2Connection client)');
      const many = await Promise.all(Array.from({ length: 100 }, (_, i) => ourRequest(conn, '/echo', { body: gen(500 + i * 1001, `m${i}`) })));
      for (const [i, r] of many.entries()) assert.equal(sha(r.body), sha(gen(500 + i * 1001, `m${i}`)), `stream ${i} to ${name}`);
      pass(name, '100 concurrent streams (H2Connection client)');
      const big = bigValue(BIG_HEADER);
      const b = await ourRequest(conn, routes ? `/big-response/${BIG_HEADER}` : '/bytes/1', { headers: ['x-big', big] });
      assert.equal(fieldValue(b.headers!, ':status'), '200');
      if (routes) {
        assert.equal(fieldValue(b.headers!, 'x-big-sha'), sha(big));
        assert.equal(fieldValue(b.headers!, 'x-big-resp'), big);
      }
      pass(name, `>16 KiB header block${routes ? 's both ways' : ' sent'} (H2Connection client)`);
      const rtt = await new Promise<number | undefined>((r) => conn.ping(r));
      assert.equal(typeof rtt, 'number');
      pass(name, 'PING answered (H2Connection client)');
      conn.close();
    }
  });

  test('small windows at the server: nghttpd -w 10 -W 14 (and padding, -b 255) and Python h2 with 1024 / 4 KiB', { timeout: 60_000 }, async () => {
    const ng = await nghttpd(['-w', '10', '-W', '14', '-b', '255']);
    const py = await pyServer({ window: 1024, conn_window: 4096 });
    try {
      for (const [name, port] of [['nghttpd', ng.port], ['python-h2 server', py.port]] as const) {
        const body = gen(1024 * 1024 + 1, 'sw');
        for (const [how, p] of [['H2Connection client', port], ['proxy upstream', await proxyTo(port)]] as const) {
          const { conn } = await ourClient(p);
          const rs = await Promise.all([1, 2, 3].map(() => ourRequest(conn, '/echo', { body })));
          for (const r of rs) assert.equal(sha(r.body), sha(body), `1 MiB into ${name}'s small windows (${how})`);
          const d = await ourRequest(conn, `/bytes/${body.length}`);
          assert.equal(sha(d.body), sha(gen(body.length, 'down')), `1 MiB from ${name} (${how})`);
          conn.close();
          pass(name, `small windows${name === 'nghttpd' ? ', padded HEADERS/DATA' : ''} (${how})`);
        }
      }
    } finally {
      ng.stop();
      py.stop();
    }
  });

  test('Python h2 server: table size changes, padding, PRIORITY; our client and the proxy as its client', { timeout: 60_000 }, async () => {
    const py = await pyServer({ table_dance: true, pad: 33 });
    try {
      for (const [how, p] of [['H2Connection client', py.port], ['proxy upstream', await proxyTo(py.port)]] as const) {
        const { conn } = await ourClient(p);
        for (let k = 0; k < 12; k++) {
          const rs = await Promise.all(
            [0, 1, 2].map((i) => ourRequest(conn, '/echo', { body: gen(20_000, `d${k}${i}`), headers: ['x-rep-a', `v${i}`, 'x-rep-b', 'y'.repeat(50 + k), 'x-rep-k', String(k)] })),
          );
          for (const [i, r] of rs.entries()) {
            assert.equal(sha(r.body), sha(gen(20_000, `d${k}${i}`)), `padded body (${how}) round ${k}`);
            assert.equal(fieldValue(r.headers!, 'x-rep-a'), `v${i}`);
            assert.equal(fieldValue(r.headers!, 'x-rep-b'), 'y'.repeat(50 + k));
            assert.equal(fieldValue(r.headers!, 'x-rep-k'), String(k));
          }
        }
        conn.close();
        pass('python-h2 server', `HEADER_TABLE_SIZE changes + its encoder resizing, padded HEADERS/DATA (${how})`);
      }
      assert.deepEqual(py.events.filter((e) => e.event === 'protocol-error'), []);
    } finally {
      py.stop();
    }
  });

  test('our client alone against Python h2: GOAWAY with a stream in flight, RST_STREAM both ways', { timeout: 30_000 }, async () => {
    const py = await pyServer();
    try {
      const { conn, goaway } = await ourClient(py.port);
      const slow = ourRequest(conn, '/slow/300');
      await sleep(50);
      const g = await ourRequest(conn, '/goaway');
      assert.equal(g.body.toString(), 'bye');
      for (let i = 0; i < 50 && goaway.length === 0; i++) await sleep(10);
      assert.deepEqual(goaway, [{ code: 0, last: 3 }]);
      assert.equal(conn.usable, false, 'no new streams after GOAWAY');
      assert.equal((await slow).body.toString(), 'slow', 'the stream in flight finished');
      pass('python-h2 server', 'GOAWAY with a stream in flight (H2Connection client)');
      const c2 = await ourClient(py.port);
      const r1 = await ourRequest(c2.conn, '/rst/11');
      assert.equal(r1.reset, 11);
      const r2 = await ourRequest(c2.conn, '/rst-mid/2');
      assert.equal(sha(r2.body), sha(gen(1000, 'mid')));
      assert.equal(r2.reset, 2);
      const hang = ourRequest(c2.conn, '/hang?who=ours', { body: gen(100, 'x') });
      await sleep(100);
      const st = [...c2.conn.streams.values()].at(-1)!;
      st.reset(H2Code.CANCEL);
      await hang;
      for (let i = 0; i < 50 && !py.events.some((e) => e.event === 'reset'); i++) await sleep(20);
      assert.deepEqual(py.events.filter((e) => e.event === 'reset').map((e) => [e.path, e.code]), [['/hang?who=ours', 8]]);
      pass('python-h2 server', 'RST_STREAM both ways (H2Connection client)');
      c2.conn.close();
    } finally {
      py.stop();
    }
  });
  test("the server's SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_MAX_FRAME_SIZE are honoured (nghttpd -m 3, Python h2 with 5 and 1 MiB frames)", { timeout: 60_000 }, async () => {
    const ng = await nghttpd(['-m', '3']);
    const py = await pyServer({ max_concurrent: 5, max_frame_size: 1 << 20 });
    try {
      // h2load opens 100 streams at once through the proxy; nghttpd takes 3 at a time.
      const h = await run('h2load', ['-n', '300', '-c', '1', '-m', '100', `http://127.0.0.1:${await proxyTo(ng.port)}/bytes/16385`]);
      const text = h.stdout.toString();
      assert.match(text, /requests: 300 total, 300 started, 300 done, 300 succeeded, 0 failed, 0 errored, 0 timeout/, text);
      pass('nghttpd', 'its SETTINGS_MAX_CONCURRENT_STREAMS 3 under 100 concurrent h2load streams (proxy upstream)');
      const big = bigValue(BIG_HEADER);
      for (const [how, p] of [['H2Connection client', py.port], ['proxy upstream', await proxyTo(py.port)]] as const) {
        const { conn } = await ourClient(p);
        // One request first: the proxy's upstream connection has the server's SETTINGS by then
        // (until they arrive the engine assumes no limit, as RFC 9113 allows).
        assert.equal((await ourRequest(conn, '/bytes/1')).body.length, 1);
        const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => ourRequest(conn, '/echo', { body: gen(100_000 + i, `mc${i}`), headers: i === 0 ? ['x-big', big] : [] })));
        for (const [i, r] of rs.entries()) assert.equal(sha(r.body), sha(gen(100_000 + i, `mc${i}`)), `stream ${i} (${how})`);
        assert.equal(fieldValue(rs[0]!.headers!, 'x-big-sha'), sha(big), `a 20 KB header block in one frame (${how})`);
        conn.close();
        pass('python-h2 server', `its SETTINGS_MAX_CONCURRENT_STREAMS 5 and MAX_FRAME_SIZE 1 MiB (${how})`);
      }
      const opened = py.events.filter((e) => e.event === 'request' && e.path === '/echo').map((e) => e.open as number);
      assert.equal(opened.length, 80);
      assert.ok(Math.max(...opened) <= 5, `at most 5 streams open at the server: ${Math.max(...opened)}`);
      assert.ok(py.events.some((e) => e.event === 'big-data-frame'), 'DATA frames past 16 KiB were sent once allowed');
      assert.deepEqual(py.events.filter((e) => e.event === 'protocol-error'), []);
    } finally {
      ng.stop();
      py.stop();
    }
  });

  test('1xx informational responses before the final one; HEAD with a content-length and no body', { timeout: 30_000 }, async () => {
    const viaProxy = await proxyTo(pyUp.port);
    const out = await pyClient(viaProxy, [{ requests: [{ path: '/early' }] }]);
    const r = (out.steps[0] as (PyResult & { informational?: [string, string][][] })[])[0]!;
    assert.deepEqual(r.informational, [[[':status', '103'], ['link', '</a.css>; rel=preload']]], 'the 103 crossed the proxy');
    assert.equal(r.body, 'early');
    pass('python-h2 server', '103 Early Hints then 200 (proxy upstream, to a Python h2 client)');
    const { conn } = await ourClient(pyUp.port);
    const e = await ourRequest(conn, '/early');
    assert.deepEqual(e.informational, [[':status', '103', 'link', '</a.css>; rel=preload']]);
    assert.equal(e.body.toString(), 'early');
    pass('python-h2 server', '103 Early Hints then 200 (H2Connection client)');
    conn.close();
    // HEAD: nghttpd declares the file's length and sends no body.
    const c = await run('curl', ['-sS', '--http2-prior-knowledge', '-I', `http://127.0.0.1:${await proxyTo(ngUp.port)}/bytes/16385`]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout.toString(), /^HTTP\/2 200/);
    assert.match(c.stdout.toString(), /content-length: 16385/);
    const o = await ourClient(ngUp.port);
    const h = await ourRequest(o.conn, '/bytes/16385', { method: 'HEAD' });
    assert.equal(fieldValue(h.headers!, 'content-length'), '16385');
    assert.equal(h.body.length, 0);
    assert.equal(h.reset, undefined);
    o.conn.close();
    pass('nghttpd', 'HEAD with content-length and no body (proxy upstream for curl -I; H2Connection client)');
  });
  test('never-indexed fields (HPACK) stay never-indexed across the proxy, both ways, also for a request that waited for the upstream\'s stream limit', { timeout: 30_000 }, async () => {
    // RFC 7541 §7.1.3: an intermediary must not re-encode a never-indexed field so that it can be indexed.
    const py = await pyServer({ max_concurrent: 1 });
    try {
      const port = await proxyTo(py.port);
      const secret = (i: number) => ({ path: `/secret?i=${i}`, headers: [['x-secret-req', `k${i}`, 'never'], ['x-plain-req', 'p']] });
      const out = await pyClient(port, [{ requests: [secret(0)] }, { requests: [1, 2, 3, 4, 5].map(secret) }]);
      for (const [k, step] of [out.steps[0], out.steps[1]].entries()) {
        for (const r of step as (PyResult & { never?: string[] })[]) {
          assert.equal(r.body, 'secret');
          assert.equal(hv(r.headers, 'x-never-req'), 'x-secret-req', `the request's never-indexed field reached the server as one (step ${k})`);
          assert.deepEqual(r.never, ['x-secret-resp', 'x-secret-trailer'], `the response's never-indexed fields reached the client as such (step ${k})`);
        }
      }
      pass('python-h2 client', 'never-indexed fields both ways (proxy→python-h2, upstream stream limit 1)');
      pass('python-h2 server', 'never-indexed fields both ways (proxy upstream, stream limit 1)');
    } finally {
      py.stop();
    }
  });
});
