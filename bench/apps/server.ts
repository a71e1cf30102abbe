/**
 * The bench's backend apps, one process: HTTP/1.1 (GET / → 2 bytes, GET /big → 1 MiB), HTTP/2
 * prior knowledge (h2c, what h2load speaks), a gRPC service (unary echo and bidi-streaming echo,
 * raw bytes so no .proto is needed) and a WebSocket echo. Each listens on every port given, so
 * one app serves the direct, proxied and meshed paths alike.
 *
 *   node server.js --http1 10000,11000 --h2 10001 --grpc 10002 --ws 10003
 */
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { WebSocketServer } from 'ws';
import { flags, ports, report } from './args';
import { GRPC_SERVICE } from './grpc-def';

const BIG = Buffer.alloc(1 << 20, 'x');
const SMALL = Buffer.from('ok');
const f = flags({ http1: 'string', h2: 'string', grpc: 'string', ws: 'string' });

const listening: Promise<unknown>[] = [];
const listen = (srv: { listen(port: number, host: string, cb: () => void): unknown }, port: number) =>
  listening.push(new Promise<void>((resolve) => srv.listen(port, '0.0.0.0', resolve)));

for (const port of ports(f.http1)) {
  const srv = createServer((req, res) => {
    const body = req.url === '/big' ? BIG : SMALL;
    // Drain any request body (POSTs) before answering.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
  });
  srv.keepAliveTimeout = 120_000;
  listen(srv, port);
}

for (const port of ports(f.h2)) {
  const srv = createH2Server({ maxSessionMemory: 64 });
  srv.on('stream', (stream, headers) => {
    // A stream the client resets (a load tool stopping mid-run) must not end the app.
    stream.on('error', () => {});
    const body = headers[':path'] === '/big' ? BIG : SMALL;
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': body.length });
    stream.end(body);
  });
  srv.on('sessionError', () => {});
  listen(srv, port);
}

for (const port of ports(f.grpc)) {
  const srv = new grpc.Server();
  srv.addService(GRPC_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (m: Buffer) => call.write(m));
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  listening.push(
    new Promise<void>((resolve, reject) =>
      srv.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    ),
  );
}

for (const port of ports(f.ws)) {
  const wss = new WebSocketServer({ host: '0.0.0.0', port, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  listening.push(new Promise((resolve) => wss.on('listening', resolve)));
}

Promise.all(listening).then(
  () => report({ event: 'listening' }),
  (err: Error) => {
    process.stderr.write(`bench server: ${err.message}\n`);
    process.exit(1);
  },
);
