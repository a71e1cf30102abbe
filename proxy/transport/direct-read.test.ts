import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { connectTarget } from './connect';
import { DIRECT_READ, directSocket, releaseBytes, takeBytes } from './direct-read';

const dir = mkdtempSync(join(tmpdir(), 'linnet-direct-read-'));
const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=direct.test']);
const skipTls = made.status === 0 ? false : 'needs openssl (apt-get install -y openssl) to make a certificate';
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes 0..n-1 of a pattern that shows any reordering, loss or overwrite (a shared read buffer reused too early). */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8) + seed) & 0xff;
  return b;
}

async function listen(srv: Server): Promise<number> {
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as { port: number }).port;
}

/** A plain server that writes `data` in `pieces` writes, then ends. */
async function plainServer(data: Buffer, pieces: number): Promise<{ port: number; close(): void }> {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {}); // a client that stops reading and closes
    const step = Math.ceil(data.length / pieces);
    for (let i = 0; i < data.length; i += step) s.write(data.subarray(i, i + step));
    s.end();
  });
  return { port: await listen(srv), close: () => srv.close() };
}

/** A TLS client dialled as the proxy dials a meshed peer (tls/connect.ts), to a server writing `data` in records. */
async function tlsDial(data: Buffer, pieces: number): Promise<{ socket: TLSSocket; close(): void }> {
  const srv = createTlsServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')), allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const step = Math.ceil(data.length / pieces);
    for (let i = 0; i < data.length; i += step) s.write(data.subarray(i, i + step));
    s.end();
  });
  const port = await listen(srv);
  const socket = directSocket(tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, allowHalfOpen: true, onread: DIRECT_READ } as ConnectionOptions));
  socket.pause();
  await once(socket, 'secureConnect');
  return { socket, close: () => srv.close() };
}

/** Reads a socket through takeBytes until 'end'; `onChunk` may pause it. */
function readAll(socket: Socket, onChunk?: (got: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  takeBytes(socket, (c) => {
    chunks.push(c);
    got += c.length;
    onChunk?.(got);
  });
  socket.resume();
  return new Promise((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
}

test('a dialled plain socket: every byte reaches the owner in order, bit-exact, with bytesRead counted', async () => {
  const data = pattern(3 * 1024 * 1024 + 17);
  const srv = await plainServer(data, 300);
  const socket = await connectTarget('127.0.0.1', srv.port, 2000, true);
  const got = await readAll(socket);
  assert.ok(got.equals(data));
  assert.equal(socket.bytesRead, data.length);
  socket.destroy();
  srv.close();
});

test('two dialled sockets read side by side keep their own bytes (one shared read buffer, copied out per read)', async () => {
  const a = pattern(512 * 1024, 1);
  const b = pattern(512 * 1024, 2);
  const [sa, sb] = [await plainServer(a, 400), await plainServer(b, 400)];
  const [ca, cb] = [await connectTarget('127.0.0.1', sa.port, 2000, true), await connectTarget('127.0.0.1', sb.port, 2000, true)];
  const [ga, gb] = await Promise.all([readAll(ca), readAll(cb)]);
  assert.ok(ga.equals(a) && gb.equals(b));
  ca.destroy();
  cb.destroy();
  sa.close();
  sb.close();
});

test('TLS: bytes decrypted after the owner paused wait for resume and come in order (TLS hands over every record it has)', { skip: skipTls }, async () => {
  const data = pattern(2 * 1024 * 1024 + 5);
  const { socket, close } = await tlsDial(data, 500);
  let pauses = 0;
  let paused = false;
  let calledWhilePaused = 0;
  const got = await readAll(socket, (n) => {
    if (paused) calledWhilePaused++;
    // Pause after every ~256 KiB, for a moment: records already decrypted must not be lost or reordered.
    if (Math.floor(n / 262_144) > pauses) {
      pauses++;
      paused = true;
      socket.pause();
      setTimeout(() => {
        paused = false;
        socket.resume();
      }, 5);
    }
  });
  assert.ok(got.equals(data), 'bit-exact and in order');
  assert.ok(pauses >= 7);
  assert.equal(calledWhilePaused, 0, 'the owner is not called while it has the socket paused');
  socket.destroy();
  close();
});

test('a dialled socket nobody took reads as a stream: data events and pipe, end (relays and tunnels)', { skip: skipTls }, async () => {
  const data = pattern(300 * 1024);
  const { socket, close } = await tlsDial(data, 50);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  await once(socket, 'end');
  assert.ok(Buffer.concat(chunks).equals(data));
  socket.destroy();
  close();
});

test('releaseBytes hands the rest of the bytes to the stream, none lost between owner and listener', async () => {
  const data = pattern(1024 * 1024);
  const srv = await plainServer(data, 200);
  const socket = await connectTarget('127.0.0.1', srv.port, 2000, true);
  const mine: Buffer[] = [];
  const rest: Buffer[] = [];
  const owner = (c: Buffer) => {
    mine.push(c);
    if (mine.length === 3) {
      releaseBytes(socket, owner);
      socket.on('data', (d: Buffer) => rest.push(d));
    }
  };
  takeBytes(socket, owner);
  socket.resume();
  await once(socket, 'end');
  assert.equal(mine.length, 3);
  assert.ok(Buffer.concat([...mine, ...rest]).equals(data));
  socket.destroy();
  srv.close();
});

test('an owner that destroys the socket is called no more; an accepted socket (no onread) is read through data events', async () => {
  const data = pattern(1024 * 1024);
  const srv = await plainServer(data, 100);
  const socket = await connectTarget('127.0.0.1', srv.port, 2000, true);
  let calls = 0;
  takeBytes(socket, () => {
    calls++;
    socket.destroy();
  });
  socket.resume();
  await once(socket, 'close');
  assert.equal(calls, 1);
  srv.close();

  const accepted = createServer((s) => {
    const chunks: Buffer[] = [];
    takeBytes(s, (c) => chunks.push(c));
    s.on('end', () => s.end(String(Buffer.concat(chunks).length)));
  });
  const port = await listen(accepted);
  const client = await connectTarget('127.0.0.1', port, 2000, true);
  client.end(data);
  const answer = await readAll(client);
  assert.equal(answer.toString(), String(data.length));
  client.destroy();
  accepted.close();
});
