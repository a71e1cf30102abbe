/**
 * The upstream for the hostile-input tests: it records exactly what it received. HTTP/1 on one
 * port, read with Node's own llhttp (strict, as a Node app would): one JSON line per request it
 * sees (`{"event":"req","url":...,"bodyLen":...}`) and per parse error; it answers each request
 * with 200 and the URL. HTTP/2 (prior knowledge) on another port: one line per stream with the
 * header names it saw and the body length.
 *
 * With a third port, a server that speaks first (as SMTP does): `220 ready` on connect, then
 * `250 <line>` for every line it reads.
 *
 *   node hostile-recorder.js H1_PORT H2_PORT [BANNER_PORT]
 */
import { createServer } from 'node:net';
import { createServer as createH2Server } from 'node:http2';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser, methods } = require('_http_common') as { HTTPParser: any; methods: string[] }; // eslint-disable-line @typescript-eslint/no-explicit-any

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
let nextConn = 0;

function serveH1(port: number): void {
  const server = createServer((sock) => {
    const conn = ++nextConn;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
    let url = '';
    let method = '';
    let headers: string[] = [];
    let bodyLen = 0;
    let pending: string[] = [];
    let pendingUrl = '';
    let bytes = 0;
    parser[HTTPParser.kOnMessageBegin] = () => {
      pending = [];
      pendingUrl = '';
    };
    parser[HTTPParser.kOnHeaders] = (h: string[], u: string) => {
      pending.push(...h);
      pendingUrl += u;
    };
    parser[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, h: string[] | undefined, m: number, u: string | undefined) => {
      headers = [...pending, ...(h ?? [])];
      url = pendingUrl + (u ?? '');
      method = methods[m] ?? String(m);
      bodyLen = 0;
      return 0;
    };
    parser[HTTPParser.kOnBody] = (b: Buffer, start?: number, len?: number) => {
      bodyLen += start === undefined ? b.length : (len ?? 0);
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      say({ event: 'req', conn, method, url, bodyLen, headers: headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()) });
      const body = Buffer.from(url, 'latin1');
      sock.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n`);
      sock.write(body);
    };
    parser[HTTPParser.kOnExecute] = () => {};
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
      const r = parser.execute(d);
      if (r instanceof Error) {
        say({ event: 'parse-error', conn, code: (r as Error & { code?: string }).code, reason: (r as Error & { reason?: string }).reason, sample: d.toString('latin1').slice(0, 200) });
        sock.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      say({ event: 'conn-close', conn, bytes });
      parser.free?.();
    });
  });
  server.listen(port, '0.0.0.0', () => say({ event: 'listening', proto: 'h1', port }));
}

function serveH2(port: number): void {
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    let bodyLen = 0;
    stream.on('data', (d: Buffer) => (bodyLen += d.length));
    stream.on('end', () => {
      // Fields a valid HTTP/2 request cannot carry (RFC 9113 §8.2.1): non-token names, CR/LF/NUL in values.
      const malformed = Object.entries(headers)
        .filter(([n, v]) => !/^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n) || /[\r\n\0]/.test(String(v)))
        .map(([n, v]) => `${n}: ${JSON.stringify(v)}`);
      say({ event: 'h2-req', path: headers[':path'], method: headers[':method'], names: Object.keys(headers), contentLength: headers['content-length'], bodyLen, malformed });
      if (!stream.closed) {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end(String(headers[':path']));
      }
    });
    stream.on('error', () => {});
  });
  server.on('sessionError', () => {});
  server.listen(port, '0.0.0.0', () => say({ event: 'listening', proto: 'h2', port }));
}

function serveBanner(port: number): void {
  const server = createServer((sock) => {
    sock.write('220 ready\r\n');
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        sock.write(`250 ${buf.slice(0, i).trim()}\r\n`);
        buf = buf.slice(i + 1);
      }
    });
    sock.on('error', () => {});
  });
  server.listen(port, '0.0.0.0', () => say({ event: 'listening', proto: 'banner', port }));
}

const [h1, h2, banner] = process.argv.slice(2).map(Number);
serveH1(h1!);
serveH2(h2!);
if (banner) serveBanner(banner);
