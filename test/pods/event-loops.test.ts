import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { connectionsPerEventLoop, isLibuvEpoll, parseEpollFdinfo, parseProcNetTcp } from './event-loops';

test('parses epoll fdinfo', () => {
  const text = 'pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\ntfd:       21 events:       19 data:               15  pos:0 ino:2d3c sdev:8\ntfd:        7 events: 2019 data: 7 pos:0 ino:1 sdev:9\n';
  assert.deepEqual(parseEpollFdinfo(text), [21, 7]);
  assert.deepEqual(parseEpollFdinfo('pos:\t0\n'), []);
  // libuv registers each fd with itself as the data word; a kernel relay lane registers pointers.
  assert.equal(isLibuvEpoll(text), true);
  assert.equal(isLibuvEpoll('tfd:       21 events:       19 data:     7f3a5c0012a8  pos:0 ino:2d3c sdev:8\n'), false);
});

test('parses /proc/net/tcp rows', () => {
  const text =
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 0100007F:102C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2102        0 34567 1 0000000000000000 100 0 0 10 0\n' +
    '   1: 0B0A0A0A:102F 0A0A0A0A:D431 01 00000000:00000000 00:00000000 00000000  2102        0 34999 1 0000000000000000 20 4 30 10 -1\n';
  assert.deepEqual(parseProcNetTcp(text), [
    { localPort: 4140, remotePort: 0, state: 10, inode: 34567 },
    { localPort: 4143, remotePort: 54321, state: 1, inode: 34999 },
  ]);
});

test('finds this process\'s accepted connections in one event loop', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const clients = await Promise.all(
    [1, 2, 3].map(() => new Promise<Socket>((r) => { const c = connect(port, '127.0.0.1', () => r(c)); })),
  );
  while (accepted.length < 3) await new Promise((r) => setImmediate(r));
  // libuv registers new fds with epoll at its next poll, not at once.
  await new Promise((r) => setTimeout(r, 20));
  try {
    assert.deepEqual(connectionsPerEventLoop(process.pid, port), [3]);
  } finally {
    for (const s of [...clients, ...accepted]) s.destroy();
    server.close();
  }
});
