/**
 * The app of the orig-proto end-to-end test (test/mesh-e2e.test.ts): an HTTP/1.1 server that
 * reports what it saw, and a client that exercises every message shape through the mesh.
 *
 *   node orig-proto-app.js serve --port 8100
 *       /echo            200, JSON: httpVersion, method, raw header names and values, body length
 *                        and sha256, request trailers (content-length response)
 *       /chunked         200 chunked (no content-length) with a trailer x-sum
 *       /big?n=BYTES     n deterministic bytes with content-length and x-sha256 (HEAD: head only)
 *       /nocl            a close-delimited response (no content-length, no chunked)
 *       /status?code=N   N with no body (204, 304)
 *       /cut             a content-length response cut off after 1000 bytes
 *       WebSocket upgrade on any path: echoes each message
 *   node orig-proto-app.js check --to 10.96.0.40:8100
 *       one JSON line per case ({"case": ..., ...observations}) and {"event":"done"}
 *   node orig-proto-app.js load --to 10.96.0.40:8100 --connections 20 --requests 200
 *       requests over `connections` keep-alive connections; {"event":"load", ok, errors, sockets}
 */
import { createHash } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';

const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** n bytes that both sides can regenerate. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function serve(port: number): void {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    switch (url.pathname) {
      case '/echo': {
        const out = Buffer.from(
          JSON.stringify({ httpVersion: req.httpVersion, method: req.method, url: req.url, rawHeaders: req.rawHeaders, length: body.length, sha256: sha(body), trailers: req.trailers }),
        );
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
        return;
      }
      case '/chunked': {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
        for (const p of ['alpha ', 'beta ', 'gamma']) res.write(p);
        res.addTrailers({ 'x-sum': sha(Buffer.from('alpha beta gamma')) });
        res.end();
        return;
      }
      case '/big': {
        const data = pattern(Number(url.searchParams.get('n')));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'x-sha256': sha(data) });
        res.end(req.method === 'HEAD' ? undefined : data);
        return;
      }
      case '/nocl': {
        // Written raw: Node would frame it otherwise. The end of the body is the connection's close.
        req.socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil the close');
        return;
      }
      case '/cut': {
        // A response cut mid-body: the client must see a reset, not a complete message.
        res.writeHead(200, { 'content-length': 100000 });
        res.write(Buffer.alloc(1000, 0x61), () => setTimeout(() => req.socket.destroy(), 50));
        return;
      }
      case '/status': {
        const code = Number(url.searchParams.get('code'));
        res.writeHead(code, code === 304 ? { etag: '"v1"' } : {});
        res.end();
        return;
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello ${req.httpVersion}`);
      ws.on('message', (m) => ws.send(`echo ${m.toString()}`));
    });
  });
  server.listen(port, '0.0.0.0', () => emit({ event: 'listening', port }));
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
  trailers: Record<string, string | undefined>;
  reused: boolean;
}

function call(agent: Agent, to: string, method: string, path: string, opts: { headers?: OutgoingHttpHeaders; body?: Buffer[]; trailers?: Record<string, string> } = {}): Promise<Res> {
  const [host, port] = to.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method, path, agent, headers: opts.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(parts), trailers: res.trailers, reused: req.reusedSocket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const b of opts.body ?? []) req.write(b);
    if (opts.trailers) req.addTrailers(opts.trailers);
    req.end();
  });
}

async function check(to: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const run = async (name: string, f: () => Promise<object>) => {
    try {
      emit({ case: name, ...(await f()) });
    } catch (err) {
      emit({ case: name, error: String((err as Error).message) });
    }
  };
  await run('echo', async () => {
    const r = await call(agent, to, 'GET', '/echo?x=1', { headers: { 'x-custom': 'v1', 'x-multi': ['a', 'b'] } });
    return { status: r.status, seen: JSON.parse(r.body.toString()), responseHeaders: r.headers };
  });
  await run('chunked-request', async () => {
    const parts = [Buffer.from('first '), Buffer.from('second '), Buffer.from('third')];
    const r = await call(agent, to, 'POST', '/echo', { headers: { 'transfer-encoding': 'chunked', trailer: 'x-req-sum' }, body: parts, trailers: { 'x-req-sum': 'abc123' } });
    return { status: r.status, seen: JSON.parse(r.body.toString()), expectSha: sha(Buffer.concat(parts)), reused: r.reused };
  });
  await run('chunked-response', async () => {
    const r = await call(agent, to, 'GET', '/chunked', { headers: { te: 'trailers' } });
    return { status: r.status, headers: r.headers, body: r.body.toString(), trailers: r.trailers, expectSum: sha(Buffer.from('alpha beta gamma')) };
  });
  await run('head', async () => {
    const r = await call(agent, to, 'HEAD', '/big?n=12345');
    return { status: r.status, headers: r.headers, length: r.body.length };
  });
  for (const code of [204, 304]) {
    await run(`status-${code}`, async () => {
      const r = await call(agent, to, 'GET', `/status?code=${code}`);
      return { status: r.status, headers: r.headers, length: r.body.length };
    });
  }
  const BIG = 6 * 1024 * 1024 + 7;
  await run('big-download', async () => {
    const r = await call(agent, to, 'GET', `/big?n=${BIG}`);
    return { status: r.status, length: r.body.length, sha256: sha(r.body), expectSha: sha(pattern(BIG)), contentLength: r.headers['content-length'] };
  });
  await run('big-upload-length', async () => {
    const data = pattern(BIG);
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i += 65536) parts.push(data.subarray(i, i + 65536));
    const r = await call(agent, to, 'PUT', '/echo', { headers: { 'content-length': data.length }, body: parts });
    const seen = JSON.parse(r.body.toString());
    return { status: r.status, length: seen.length, sha256: seen.sha256, expectSha: sha(data) };
  });
  await run('big-upload-chunked', async () => {
    const data = pattern(BIG);
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i += 100_000) parts.push(data.subarray(i, i + 100_000));
    const r = await call(agent, to, 'POST', '/echo', { headers: { 'transfer-encoding': 'chunked' }, body: parts });
    const seen = JSON.parse(r.body.toString());
    return { status: r.status, length: seen.length, sha256: seen.sha256, expectSha: sha(data) };
  });
  await run('no-content-length', async () => {
    const r = await call(agent, to, 'GET', '/nocl');
    return { status: r.status, headers: r.headers, body: r.body.toString() };
  });
  await run('cut-mid-body', async () => {
    try {
      const r = await call(agent, to, 'GET', '/cut');
      return { completed: true, length: r.body.length };
    } catch (err) {
      return { completed: false, failure: String((err as NodeJS.ErrnoException).code ?? (err as Error).message) };
    }
  });
  await run('pipelined', async () => {
    // Three requests in one write: the answers must come back in order, each complete.
    const [host, port] = to.split(':');
    const sock = connect({ host, port: Number(port) });
    const reqs = [1, 2, 3].map((n) => `GET /echo?n=${n} HTTP/1.1\r\nHost: ${to}\r\n\r\n`).join('');
    sock.write(reqs);
    let buf = Buffer.alloc(0);
    const urls: string[] = [];
    await new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const m = /content-length: (\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
          const len = Number(m?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          urls.push((JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()) as { url: string }).url);
          buf = buf.subarray(end + 4 + len);
          if (urls.length === 3) {
            sock.destroy();
            return resolve();
          }
        }
      });
      sock.on('error', reject);
      setTimeout(() => reject(new Error('pipelined: timeout')), 10_000);
    });
    return { urls };
  });
  await run('websocket', async () => {
    const ws = new WebSocket(`ws://${to}/ws`);
    const msgs: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        msgs.push(m.toString());
        if (msgs.length === 1) ws.send('ping');
        else {
          ws.close();
          resolve();
        }
      });
      ws.on('error', reject);
      setTimeout(() => reject(new Error('websocket timeout')), 10_000);
    });
    return { messages: msgs };
  });
  agent.destroy();
  emit({ event: 'done' });
}

async function load(to: string, connections: number, requests: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let ok = 0;
  let errors = 0;
  const why: string[] = [];
  const sockets = new Set<unknown>();
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      try {
        const r = await call(agent, to, 'GET', '/echo');
        if (r.status !== 200) throw new Error(`${r.status} ${String(r.headers['l5d-proxy-error'])}`);
        const seen = JSON.parse(r.body.toString()) as { httpVersion: string; rawHeaders: string[] };
        if (r.status === 200 && seen.httpVersion === '1.1' && !seen.rawHeaders.some((h) => h.toLowerCase() === 'l5d-orig-proto')) ok++;
        else {
          errors++;
          why.push(`${r.status} ${r.headers['l5d-proxy-error'] ?? ''} ${r.body.subarray(0, 200).toString()}`);
        }
      } catch (err) {
        errors++;
        why.push(String((err as Error).message));
      }
    }
  };
  agent.on('free', (s) => sockets.add(s));
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  emit({ event: 'load', ok, errors, sockets: sockets.size, why });
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' }, to: { type: 'string' }, connections: { type: 'string', default: '20' }, requests: { type: 'string', default: '200' } },
});
const cmd = positionals[0];
if (cmd === 'serve') serve(Number(values.port));
else if (cmd === 'check') void check(values.to!);
else if (cmd === 'load') void load(values.to!, Number(values.connections), Number(values.requests));
else {
  process.stderr.write('usage: orig-proto-app.js serve|check|load ...\n');
  process.exit(2);
}
