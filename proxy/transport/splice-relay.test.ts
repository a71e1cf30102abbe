/**
 * The kernel relay between real loopback sockets, held to the JavaScript relay's contract
 * (relay.test.ts): bytes both ways with the detection bytes first, a server that speaks first,
 * FIN carried each way with the other direction still open, resets carried both ways, a slow
 * reader holding the proxy to a pipe's worth in flight, 100 MB bit-exact both ways, the sockets'
 * byte counts matching what crossed, many relays at once, JavaScript closing a socket mid-stream,
 * and a process that exits with relays in flight.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { SPLICE_PIPE_BYTES, spliceAvailable, splicesInFlight } from './native/splice-lane';
import { kernelFirstRead, spliceRelay } from './splice-relay';

const skip = spliceAvailable() ? false : 'the kernel relay needs Linux and the native addon';

interface Rig {
  /** The "app" client socket and the "target" server socket, joined through the kernel relay. */
  client: Socket;
  target: Socket;
  closed: Promise<[string, string]>;
  proxySrc: Socket;
  proxyDst: Socket;
  close(): void;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** `onTarget` runs as soon as the target accepts, before the relay exists (a server that speaks first). */
async function rig(initial?: Buffer, onTarget?: (s: Socket) => void): Promise<Rig> {
  const targetServer = createServer({ allowHalfOpen: true });
  const targetPort = await listen(targetServer);
  const targetConn = new Promise<Socket>((resolve) =>
    targetServer.once('connection', (s: Socket) => {
      onTarget?.(s);
      resolve(s);
    }),
  );
  let closedResolve!: (v: [string, string]) => void;
  const closed = new Promise<[string, string]>((r) => (closedResolve = r));
  const proxyServer = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const proxySides = new Promise<[Socket, Socket]>((resolve, reject) => {
    proxyServer.on('connection', (src: Socket) => {
      const dst = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
      dst.pause();
      dst.once('connect', () => {
        if (!spliceRelay(src, dst, { initial, onClose: (a, b) => closedResolve([a, b]) })) reject(new Error('the kernel relay refused'));
        resolve([src, dst]);
      });
    });
  });
  const proxyPort = await listen(proxyServer);
  const client = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  const [target, [proxySrc, proxyDst]] = await Promise.all([targetConn, proxySides]);
  return {
    client,
    target,
    closed,
    proxySrc,
    proxyDst,
    close() {
      client.destroy();
      target.destroy();
      proxyServer.close();
      targetServer.close();
    },
  };
}

function collect(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

/** Reads to the end, hashing: for streams too big to keep. */
function digest(s: Socket): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  s.on('data', (c: Buffer) => {
    h.update(c);
    bytes += c.length;
  });
  return once(s, 'end').then(() => ({ sha: h.digest('hex'), bytes }));
}

/** Writes `total` pseudo-random bytes with backpressure, then FIN; resolves with their sha256. */
async function send(s: Socket, total: number): Promise<string> {
  const h = createHash('sha256');
  const block = randomBytes(1 << 20);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(block.length, total - sent);
    // A fresh view per write: the bytes differ per block position so a reordering would show.
    const chunk = Buffer.from(block.subarray(0, n));
    chunk.writeUInt32BE(sent >>> 0, 0);
    h.update(chunk);
    sent += n;
    if (!s.write(chunk)) await once(s, 'drain');
  }
  s.end();
  return h.digest('hex');
}

test('bytes flow both ways, the initial prefix first', { skip }, async () => {
  const r = await rig(Buffer.from('HELLO '));
  const atTarget = collect(r.target);
  const atClient = collect(r.client);
  r.client.end('world');
  r.target.end('reply');
  assert.equal((await atTarget).toString(), 'HELLO world');
  assert.equal((await atClient).toString(), 'reply');
  assert.deepEqual(await r.closed, ['', '']);
  r.close();
});

test('a server that speaks first is heard before the client sends anything', { skip }, async () => {
  const r = await rig(undefined, (s) => s.write('220 banner\r\n'));
  const [first] = (await once(r.client, 'data')) as [Buffer];
  assert.equal(first.toString(), '220 banner\r\n');
  const atTarget = collect(r.target);
  r.client.end('QUIT\r\n');
  assert.equal((await atTarget).toString(), 'QUIT\r\n');
  r.target.end();
  assert.deepEqual(await r.closed, ['', '']);
  assert.ok(kernelFirstRead(r.proxyDst)! >= 0, 'the relay thread says when the target spoke first');
  r.close();
});

test('half-close: the client FIN reaches the target, which can still answer', { skip }, async () => {
  const r = await rig();
  const atClient = collect(r.client);
  r.client.end('question');
  const atTarget = await collect(r.target); // resolves only on the FIN
  assert.equal(atTarget.toString(), 'question');
  // The other direction is still open after the FIN.
  r.target.write('answer part 1, ');
  await new Promise((res) => setTimeout(res, 50));
  r.target.end('part 2');
  assert.equal((await atClient).toString(), 'answer part 1, part 2');
  assert.deepEqual(await r.closed, ['', '']);
  r.close();
});

test('half-close the other way: the target FIN reaches the client first', { skip }, async () => {
  const r = await rig();
  const atTarget = collect(r.target);
  r.target.end('banner');
  assert.equal((await collect(r.client)).toString(), 'banner');
  await new Promise((res) => setTimeout(res, 50));
  r.client.end('late');
  assert.equal((await atTarget).toString(), 'late');
  assert.deepEqual(await r.closed, ['', '']);
  r.close();
});

test('a reset from the target reaches the client as a reset', { skip }, async () => {
  const r = await rig();
  const clientError = once(r.client, 'error');
  r.client.write('x');
  await once(r.target, 'data');
  r.target.resetAndDestroy();
  const [err] = (await clientError) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  const [srcErrno, dstErrno] = await r.closed;
  assert.equal(dstErrno, 'ECONNRESET');
  assert.equal(srcErrno, '');
  r.close();
});

test('a reset from the client reaches the target as a reset', { skip }, async () => {
  const r = await rig();
  const targetError = once(r.target, 'error');
  r.target.write('x');
  await once(r.client, 'data');
  r.client.resetAndDestroy();
  const [err] = (await targetError) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  const [srcErrno, dstErrno] = await r.closed;
  assert.equal(srcErrno, 'ECONNRESET');
  assert.equal(dstErrno, '');
  r.close();
});

test('backpressure: a reader that does not read holds the proxy to a pipe per direction', { skip }, async () => {
  const r = await rig();
  r.client.pause(); // the client never reads
  const chunk = Buffer.alloc(64 * 1024, 7);
  let written = 0;
  const deadline = Date.now() + 1500;
  while (Date.now() < deadline && written < 256 * 1024 * 1024) {
    if (r.target.write(chunk)) written += chunk.length;
    else await Promise.race([once(r.target, 'drain'), new Promise((res) => setTimeout(res, 100))]);
  }
  // What the proxy holds is what the relay read from the target but could not hand on: in the pipe.
  const held = r.proxyDst.bytesRead - r.proxySrc.bytesWritten;
  assert.ok(held <= SPLICE_PIPE_BYTES, `proxy holds ${held} bytes (pipe: ${SPLICE_PIPE_BYTES})`);
  assert.ok(written < 64 * 1024 * 1024, `target could write ${written} bytes into a stalled path`);
  // Resumed, the reader gets every byte.
  const total = r.proxyDst.bytesRead;
  let got = 0;
  r.client.on('data', (c: Buffer) => (got += c.length));
  r.client.resume();
  while (got < total) await new Promise((res) => setTimeout(res, 10));
  r.close();
});

test('100 MB each way at once, bit-exact, and the sockets count every byte', { skip, timeout: 120_000 }, async () => {
  const r = await rig();
  const SIZE = 100 * 1024 * 1024;
  const atTarget = digest(r.target);
  const atClient = digest(r.client);
  const [upSha, downSha] = await Promise.all([send(r.client, SIZE), send(r.target, SIZE)]);
  const [up, down] = await Promise.all([atTarget, atClient]);
  assert.equal(up.bytes, SIZE);
  assert.equal(down.bytes, SIZE);
  assert.equal(up.sha, upSha);
  assert.equal(down.sha, downSha);
  assert.deepEqual(await r.closed, ['', '']);
  assert.deepEqual(
    [r.proxySrc.bytesRead, r.proxySrc.bytesWritten, r.proxyDst.bytesRead, r.proxyDst.bytesWritten],
    [SIZE, SIZE, SIZE, SIZE],
  );
  r.close();
});

test('counts: the initial bytes count as written, bytes read before the handover count once', { skip }, async () => {
  const r = await rig(Buffer.from('prefix'));
  const atTarget = collect(r.target);
  const atClient = collect(r.client);
  r.client.end(Buffer.alloc(1000, 1));
  r.target.end(Buffer.alloc(2500, 2));
  assert.equal((await atTarget).length, 1006);
  assert.equal((await atClient).length, 2500);
  await r.closed;
  // The client side read 1000 and wrote 2500; the target side read 2500 and wrote 6 + 1000.
  assert.deepEqual([r.proxySrc.bytesRead, r.proxySrc.bytesWritten, r.proxyDst.bytesRead, r.proxyDst.bytesWritten], [1000, 2500, 2500, 1006]);
  r.close();
});

test('bytes Node read before the handover (during detection) are sent first, the FIN after them', { skip }, async () => {
  const targetServer = createServer({ allowHalfOpen: true });
  const targetPort = await listen(targetServer);
  const proxyServer = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const proxyPort = await listen(proxyServer);
  const targetGot = new Promise<string>((resolve) => {
    targetServer.on('connection', (s: Socket) => {
      s.end('banner'); // the target answers and closes before the relay exists
      collect(s).then((b) => resolve(b.toString()));
    });
  });
  proxyServer.on('connection', (src: Socket) => {
    // Detection reads the first chunk; the rest (and the FIN) arrive while nobody reads.
    src.once('data', (first: Buffer) => {
      src.pause();
      const dst = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
      dst.pause();
      dst.once('connect', () => setTimeout(() => assert.ok(spliceRelay(src, dst, { initial: first })), 100));
    });
    src.resume();
  });
  const client = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  client.write('hello');
  setTimeout(() => client.end(' world'), 20);
  assert.equal((await collect(client)).toString(), 'banner');
  assert.equal(await targetGot, 'hello world');
  client.destroy();
  proxyServer.close();
  targetServer.close();
});

test('200 relays at once, each bit-exact', { skip, timeout: 60_000 }, async () => {
  const N = 200;
  const targetServer = createServer({ allowHalfOpen: true }, (s: Socket) => {
    // Echo: every byte back, then FIN after the client's.
    s.on('data', (c: Buffer) => s.write(c));
    s.on('end', () => s.end());
  });
  const targetPort = await listen(targetServer);
  const proxyServer = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (src: Socket) => {
    const dst = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    dst.pause();
    dst.once('connect', () => assert.ok(spliceRelay(src, dst, {})));
  });
  const proxyPort = await listen(proxyServer);
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const c = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
      const back = digest(c);
      const sent = await send(c, 64 * 1024 + i * 997);
      const got = await back;
      assert.equal(got.sha, sent, `relay ${i}`);
      c.destroy();
    }),
  );
  proxyServer.close();
  targetServer.close();
  while (splicesInFlight() > 0) await new Promise((res) => setTimeout(res, 10));
});

test('JavaScript closing a socket mid-stream ends the relay and resets the other side', { skip }, async () => {
  const r = await rig();
  r.client.write('x');
  await once(r.target, 'data');
  const targetError = once(r.target, 'error');
  // The worker's grace period ended, or the connection limit evicted the client.
  r.proxySrc.destroy();
  const [err] = (await targetError) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  await r.closed;
  assert.equal(r.proxyDst.destroyed, true);
  r.close();
});

test('closing both sockets while bytes flow (a drain that ran out of time) leaves nothing in flight', { skip }, async () => {
  const r = await rig();
  r.client.on('error', () => {});
  r.target.on('error', () => {});
  const pumping = send(r.client, 50 * 1024 * 1024).catch(() => undefined);
  r.target.resume();
  await new Promise((res) => setTimeout(res, 50));
  r.proxySrc.destroy();
  r.proxyDst.destroy();
  await r.closed;
  await pumping;
  while (splicesInFlight() > 0) await new Promise((res) => setTimeout(res, 10));
  r.close();
});

test('a plain socket and a TLS one are not handed over; nothing is changed', { skip }, async () => {
  const { TLSSocket } = await import('node:tls');
  const r = await rig();
  const tls = new TLSSocket(r.proxyDst);
  assert.equal(spliceRelay(r.proxySrc, tls, {}), false);
  tls.destroy();
  r.close();
});

test('a socket read through onread (a pool connection, direct-read.ts) is not handed over: its resume() would restart Node\'s reads beside the relay thread', { skip }, async () => {
  const { connectTarget } = await import('./connect');
  const srv = createServer((s) => s.on('error', () => {}));
  const port = await listen(srv);
  const [a, b, c] = [await connectTarget('127.0.0.1', port, 2000, true), await connectTarget('127.0.0.1', port, 2000), await connectTarget('127.0.0.1', port, 2000)];
  for (const x of [a, b, c]) x.on('error', () => {});
  assert.equal(spliceRelay(a, b, {}), false, 'direct-read socket refused');
  const closed = new Promise((resolve) => assert.equal(spliceRelay(b, c, { onClose: resolve }), true, 'control: two stream-read sockets are taken'));
  for (const x of [a, b, c]) x.destroy();
  await closed;
  srv.close();
});

test('a process that exits with relays in flight exits cleanly, with its exit code', { skip }, () => {
  const script = `
    const net = require('node:net');
    const { spliceRelay } = require(${JSON.stringify(require.resolve('./splice-relay'))});
    const target = net.createServer({ allowHalfOpen: true }, (s) => s.resume());
    target.listen(0, '127.0.0.1', () => {
      const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (src) => {
        const dst = net.connect({ port: target.address().port, host: '127.0.0.1', allowHalfOpen: true });
        dst.pause();
        dst.once('connect', () => { if (!spliceRelay(src, dst, {})) process.exit(3); });
      });
      proxy.listen(0, '127.0.0.1', () => {
        for (let i = 0; i < 20; i++) {
          const c = net.connect({ port: proxy.address().port, host: '127.0.0.1' });
          const block = Buffer.alloc(1 << 20);
          const pump = () => { while (c.write(block)); };
          c.on('drain', pump);
          c.on('error', () => {});
          pump();
        }
        setTimeout(() => process.exit(7), 300);
      });
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 7, r.stderr);
});

test('a worker thread terminated with relays in flight closes them; the process carries on', { skip, timeout: 30_000 }, async () => {
  const { Worker } = await import('node:worker_threads');
  const targetServer = createServer({ allowHalfOpen: true }, (s: Socket) => {
    s.on('error', () => {});
    s.resume();
  });
  const targetPort = await listen(targetServer);
  // The proxy runs in a worker, as in `linnet proxy`: its lane belongs to that thread.
  const worker = new Worker(
    `
    const net = require('node:net');
    const { parentPort, workerData } = require('node:worker_threads');
    const { spliceRelay } = require(${JSON.stringify(require.resolve('./splice-relay'))});
    const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (src) => {
      const dst = net.connect({ port: workerData, host: '127.0.0.1', allowHalfOpen: true });
      dst.pause();
      dst.once('connect', () => parentPort.postMessage({ spliced: spliceRelay(src, dst, {}) }));
    });
    proxy.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: proxy.address().port }));`,
    { eval: true, workerData: targetPort },
  );
  const messages: { port?: number; spliced?: boolean }[] = [];
  worker.on('message', (m: { port?: number; spliced?: boolean }) => messages.push(m));
  while (!messages.some((m) => m.port)) await new Promise((res) => setTimeout(res, 10));
  const proxyPort = messages.find((m) => m.port)!.port!;
  const clients = Array.from({ length: 10 }, () => connect({ port: proxyPort, host: '127.0.0.1' }));
  const ended = clients.map((c) => {
    c.on('error', () => {});
    const block = Buffer.alloc(1 << 20);
    const pump = () => {
      while (!c.destroyed && c.write(block));
    };
    c.on('drain', pump);
    c.on('connect', pump);
    return new Promise<void>((res) => c.once('close', () => res()));
  });
  while (messages.filter((m) => m.spliced !== undefined).length < clients.length) await new Promise((res) => setTimeout(res, 10));
  assert.ok(messages.filter((m) => m.spliced !== undefined).every((m) => m.spliced));
  await new Promise((res) => setTimeout(res, 100));
  await worker.terminate();
  // The lane's descriptors went with the worker: every client's connection ends.
  await Promise.all(ended);
  targetServer.close();
});
