/**
 * The relay between real loopback sockets: bytes both ways, FIN carried each way with the other
 * direction still open, resets carried, and a slow reader holding the proxy's buffering to about
 * one socket buffer instead of the whole stream.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { relay } from './relay';

interface Rig {
  /** The "app" client socket and the "target" server socket, joined through the relay. */
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

async function rig(initial?: Buffer): Promise<Rig> {
  const targetServer = createServer({ allowHalfOpen: true });
  const targetPort = await listen(targetServer);
  const targetConn = once(targetServer, 'connection');
  let closedResolve!: (v: [string, string]) => void;
  const closed = new Promise<[string, string]>((r) => (closedResolve = r));
  const proxyServer = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const proxySides = new Promise<[Socket, Socket]>((resolve) => {
    proxyServer.on('connection', (src: Socket) => {
      const dst = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
      dst.once('connect', () => {
        relay(src, dst, { initial, onClose: (a, b) => closedResolve([a, b]) });
        resolve([src, dst]);
      });
    });
  });
  const proxyPort = await listen(proxyServer);
  const client = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  const [[target], [proxySrc, proxyDst]] = await Promise.all([targetConn as Promise<[Socket]>, proxySides]);
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

/** Waits for 'drain' or `ms`, whichever comes first, leaving no listener behind. */
function drainOrTimeout(s: Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      s.off('drain', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    s.once('drain', done);
  });
}

function collect(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

test('bytes flow both ways, the initial prefix first', async () => {
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

test('half-close: the client FIN reaches the target, which can still answer', async () => {
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

test('half-close the other way: the target FIN reaches the client first', async () => {
  const r = await rig();
  const atTarget = collect(r.target);
  r.target.end('banner');
  assert.equal((await collect(r.client)).toString(), 'banner');
  r.client.end('late');
  assert.equal((await atTarget).toString(), 'late');
  r.close();
});

test('a reset from the target reaches the client as a reset', async () => {
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

test('a reset from the client reaches the target as a reset', async () => {
  const r = await rig();
  const targetError = once(r.target, 'error');
  r.target.write('x');
  await once(r.client, 'data');
  r.client.resetAndDestroy();
  const [err] = (await targetError) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  r.close();
});

test('backpressure: a reader that does not read keeps the proxy buffering bounded', async () => {
  const r = await rig();
  r.client.pause(); // the client never reads
  const chunk = Buffer.alloc(64 * 1024, 7);
  // The target writes as fast as the relay lets it, for a while.
  let written = 0;
  const deadline = Date.now() + 1500;
  while (Date.now() < deadline) {
    if (!r.target.write(chunk)) await drainOrTimeout(r.target, 100);
    else written += chunk.length;
    if (written > 256 * 1024 * 1024) break;
  }
  // What the proxy holds in user space is what it read from the target but could not hand on.
  const heldByProxy = r.proxyDst.bytesRead - r.proxySrc.bytesWritten + r.proxySrc.writableLength;
  assert.ok(r.proxyDst.isPaused(), 'the relay paused the fast side');
  assert.ok(heldByProxy < 4 * 1024 * 1024, `proxy holds ${heldByProxy} bytes`);
  assert.ok(written < 64 * 1024 * 1024, `target could write ${written} bytes into a stalled path`);
  r.close();
});

test('a FIN that arrived before the relay took over is still carried (both directions)', async () => {
  const targetServer = createServer({ allowHalfOpen: true });
  const targetPort = await listen(targetServer);
  const proxyServer = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const proxyPort = await listen(proxyServer);
  const targetGot = new Promise<string>((resolve) => {
    targetServer.on('connection', (s: Socket) => {
      // The target answers and closes at once, before the relay exists.
      s.end('banner');
      collect(s).then((b) => resolve(b.toString()));
    });
  });
  proxyServer.on('connection', (src: Socket) => {
    // Read the client's bytes, and let its FIN arrive while nobody listens for 'end'.
    src.once('data', (first: Buffer) => {
      src.pause();
      const dst = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
      dst.pause();
      dst.once('connect', () => setTimeout(() => relay(src, dst, { initial: first, onClose: () => {} }), 100));
    });
    src.resume();
  });
  const client = connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  client.end('hello');
  const atClient = await collect(client);
  assert.equal(atClient.toString(), 'banner');
  assert.equal(await targetGot, 'hello');
  client.destroy();
  proxyServer.close();
  targetServer.close();
});
