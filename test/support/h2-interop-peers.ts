/**
 * The peers and helpers of the HTTP/2 interop suites (test/h2-interop-clients.test.ts and
 * test/h2-interop-servers.test.ts): the independent processes (curl, nghttp, h2load, nghttpd,
 * Python's h2), the proxy on loopback between them, our own H2Connection server and client, and
 * the matrix of what passed. `interopPeers()` starts them before a suite and stops them after.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPrefix } from '../../proxy/accept/read-prefix';
import { loadProxyConfig } from '../../proxy/runtime/config';
import { H2Connection } from '../../proxy/protocol/h2/connection';
import type { H2Stream } from '../../proxy/protocol/h2/stream';
import { fieldValue } from '../../proxy/protocol/h2/headers';
import type { Fields } from '../../proxy/protocol/h2/semantics';
import type { H2Settings } from '../../proxy/protocol/h2/settings';
import { H2, loopbackProxy } from './stacks';

export const PY = '/usr/bin/python3';
export const PEERS = join(__dirname, '..', '..', '..', 'test', 'support', 'h2-peers');
export const have = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
export const missing = [
  ...(have('curl', ['--version']) ? [] : ['curl']),
  ...(have('nghttp', ['--version']) ? [] : ['nghttp']),
  ...(have('nghttpd', ['--version']) ? [] : ['nghttpd']),
  ...(have('h2load', ['--version']) ? [] : ['h2load']),
  ...(have(PY, ['-c', 'import h2']) ? [] : ['python3-h2']),
];
export const skip = missing.length > 0 ? `not installed: ${missing.join(', ')} (bash .ci/setup-debian)` : false;

export const SIZES = [0, 1, 16383, 16384, 16385, 1024 * 1024 + 1];
export const BIG_HEADER = 20_000;

// ---- bytes both sides can make ----

export const genCache = new Map<string, Buffer>();
/** SHA-256("seed:k") for k = 0, 1, ... cut to n bytes: what peer.py's gen makes. */
export function gen(n: number, seed: string): Buffer {
  const key = `${seed}/${n}`;
  const hit = genCache.get(key);
  if (hit) return hit;
  const parts: Buffer[] = [];
  for (let k = 0, len = 0; len < n; k++, len += 32) parts.push(createHash('sha256').update(`${seed}:${k}`).digest());
  const out = Buffer.concat(parts).subarray(0, n);
  genCache.set(key, out);
  return out;
}
export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const bigValue = (n: number) => gen(n / 2, 'big').toString('hex');
/** Counts of each byte value: nghttp -m writes the bodies of concurrent streams interleaved, as their DATA arrives. */
export function histogram(b: Buffer): number[] {
  const h = new Array<number>(256).fill(0);
  for (const x of b) h[x]!++;
  return h;
}
export function sameBodies(out: Buffer, body: Buffer, times: number): boolean {
  const want = histogram(body);
  return out.length === body.length * times && histogram(out).every((n, i) => n === want[i]! * times);
}

// ---- the matrix, printed at the end ----

export const passed = new Map<string, Set<string>>();
export function pass(peer: string, what: string): void {
  if (!passed.has(peer)) passed.set(peer, new Set());
  passed.get(peer)!.add(what);
}

// ---- processes ----

export const children = new Set<ChildProcess>();
export interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const c = execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      children.delete(c);
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr: stderr.toString() });
    });
    children.add(c);
  });
}

export interface PyServer {
  port: number;
  events: Record<string, unknown>[];
  stop(): void;
}
export async function pyServer(opts: Record<string, unknown> = {}): Promise<PyServer> {
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

export interface PyResult {
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
export interface PyOut {
  steps: (PyResult[] | Record<string, unknown>)[];
  goaway: { code: number; last: number } | null;
  errors: string[];
}
export async function pyClient(port: number, steps: unknown[], opts: Record<string, unknown> = {}): Promise<PyOut> {
  const r = await run(PY, [join(PEERS, 'client.py'), JSON.stringify({ port, opts, steps, timeout: 30 })]);
  const text = r.stdout.toString();
  const last = text.trim().split('\n').pop() ?? '';
  assert.equal(r.code, 0, `client.py failed: ${r.stderr}\n${text.slice(0, 2000)}`);
  const out = JSON.parse(last) as PyOut;
  assert.deepEqual(out.errors, [], `client.py: ${JSON.stringify(out.errors)} ${text.slice(0, 1000)}`);
  return out;
}
export const hv = (h: [string, string][] | null | undefined, name: string) => h?.find(([n]) => n === name)?.[1];

export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return p;
}
export async function waitListening(port: number): Promise<void> {
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

export const htdocs = mkdtempSync(join(tmpdir(), 'linnet-h2interop-'));
export async function nghttpd(extra: string[] = []): Promise<{ port: number; stop(): void }> {
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

export const lp = loopbackProxy();
export const settings: H2Settings = loadProxyConfig({}).http2;
export const servers = new Set<Server>();

/** A loopback listener whose every connection the outbound stack proxies as h2 to 127.0.0.1:port. */
export async function proxyTo(port: number): Promise<number> {
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

export interface OurServer {
  port: number;
  resets: { path: string; code: number }[];
  conns: H2Connection[];
}
/** The routes of server.py, served by our H2Connection in the server role. */
export async function ourServer(s: H2Settings = settings): Promise<OurServer> {
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

export function serveStream(conn: H2Connection, cid: number, stream: H2Stream, req: Fields, endStream: boolean, out: OurServer): void {
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

export interface OurRes {
  informational: Fields[];
  headers: Fields | undefined;
  body: Buffer;
  trailers: Fields | undefined;
  reset: number | undefined;
}
export async function ourClient(port: number, s: H2Settings = settings): Promise<{ conn: H2Connection; goaway: { code: number; last: number }[]; closed: Promise<void> }> {
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
export function ourRequest(conn: H2Connection, path: string, opts: { method?: string; headers?: Fields; body?: Buffer; trailers?: Fields } = {}): Promise<OurRes> {
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
export interface Target {
  name: string;
  port: number;
  /** server.py's routes (the Python server or ours), not nghttpd's files. */
  routes: boolean;
  events?: Record<string, unknown>[];
}
export let pyUp: PyServer;
export let ngUp: { port: number; stop(): void };
export let ours: OurServer;
export const targets: Target[] = [];

export function interopPeers(): void {
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
}

export const url = (t: Target, path: string) => `http://127.0.0.1:${t.port}${path}`;
export const tmp = (name: string) => join(htdocs, `${process.pid}-${name}`);
