/**
 * Apps for the HTTP/1 pod tests, run inside pods: `serve` (an HTTP app that hashes uploads and
 * misbehaves on request, plus a `ws` echo server) and `ws` / `raw` clients. They report as JSON
 * lines on stdout, as test/pods/tcp-app does.
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';

const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

function serve(httpPort: number, wsPort: number): void {
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/reset-mid') {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(Buffer.alloc(10_000, 1));
      setTimeout(() => req.socket.resetAndDestroy(), 100);
      return;
    }
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
    });
    req.on('end', () => {
      const report = { method: req.method, url: req.url, bytes, sha256: h.digest('hex'), headers: req.headers, httpVersion: req.httpVersion };
      say({ event: 'request', ...report });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(report));
    });
    req.on('error', () => say({ event: 'request-aborted', url: req.url, bytes }));
  });
  server.keepAliveTimeout = 30_000;
  server.listen(httpPort, '0.0.0.0', () => {
    const wss = new WebSocketServer({ port: wsPort, host: '0.0.0.0' });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'bye') return ws.close(4000, 'bye from server');
        ws.send(data, { binary: isBinary });
      });
    });
    wss.on('listening', () => say({ event: 'listening' }));
  });
}

async function wsClient(url: string): Promise<void> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = () => new Promise<[Buffer, boolean]>((r) => ws.once('message', (d: Buffer, b: boolean) => r([d, b])));
  let p = next();
  ws.send('hello text');
  const [text, textBinary] = await p;
  const blob = createHash('sha512').update('seed').digest();
  const big = Buffer.concat(Array.from({ length: 4000 }, () => blob)); // 256000 bytes
  p = next();
  ws.send(big);
  const [bin, binBinary] = await p;
  const pong = new Promise<Buffer>((r) => ws.once('pong', r));
  ws.ping('ping-data');
  const pongData = await pong;
  const closed = new Promise<[number, Buffer]>((r) => ws.once('close', (c: number, why: Buffer) => r([c, why])));
  ws.send('bye');
  const [code, reason] = await closed;
  say({
    event: 'ws',
    text: text.toString(),
    textBinary,
    binaryEqual: Buffer.compare(bin, big) === 0,
    binBinary,
    pong: pongData.toString(),
    code,
    reason: reason.toString(),
  });
}

/** Sends raw bytes (base64) and reports what came back and how the connection ended. */
function raw(host: string, port: number, b64: string): void {
  const s = connect({ host, port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let error = '';
  s.on('connect', () => s.write(Buffer.from(b64, 'base64')));
  s.on('data', (d) => chunks.push(d));
  s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? 'EIO'));
  s.on('end', () => s.end());
  const timer = setTimeout(() => {
    say({ event: 'raw', data: Buffer.concat(chunks).toString('latin1'), closed: false, error });
    s.destroy();
  }, 3000);
  s.on('close', () => {
    clearTimeout(timer);
    say({ event: 'raw', data: Buffer.concat(chunks).toString('latin1'), closed: true, error });
  });
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'serve') serve(Number(args[0]), Number(args[1]));
else if (cmd === 'ws') void wsClient(args[0]!).catch((e) => (say({ event: 'ws-error', error: String(e) }), process.exit(1)));
else if (cmd === 'raw') raw(args[0]!, Number(args[1]), args[2]!);
else {
  process.stderr.write('usage: pod-app serve HTTP_PORT WS_PORT | ws URL | raw HOST PORT BASE64\n');
  process.exit(2);
}
