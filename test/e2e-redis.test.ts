/**
 * Real Redis through the mesh: redis-server in the server pod, redis-cli and redis-benchmark in
 * the client pod. 6379 is in the default opaque list; 6380 is not, so there the proxies detect
 * (the client speaks first, RESP is not HTTP/TLS) and fall back to opaque TCP.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_UID, logsOnFailure, meshSkipReason, sum } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
let mesh: Mesh | undefined;

before(async () => {
  if (skip) return;
  mesh = await createMesh();
  for (const port of [6379, 6380]) {
    mesh.server.spawn(
      'redis-server',
      ['--port', String(port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', '/tmp'],
      { uid: APP_UID, name: `redis-${port}` },
    );
  }
  await eventually(async () => {
    for (const port of [6379, 6380]) {
      const r = await mesh!.server.run('redis-cli', ['-p', String(port), 'PING'], { uid: APP_UID });
      assert.equal(r.stdout.trim(), 'PONG');
    }
  }, 10_000);
});
after(async () => {
  await mesh?.cluster.destroy();
});

const cli = (port: number, ...args: string[]) => mesh!.client.runOk('redis-cli', ['-h', mesh!.server.ip, '-p', String(port), ...args], { uid: APP_UID });

for (const port of [6379, 6380]) {
  test(`redis-cli SET/GET through the mesh on ${port} (${port === 6379 ? 'opaque by default' : 'detected'})`, { skip }, logsOnFailure(() => mesh?.cluster, async () => {
    const value = `linnet-${port}-${Date.now()}`;
    assert.equal((await cli(port, 'SET', 'greeting', value)).stdout.trim(), 'OK');
    assert.equal((await cli(port, 'GET', 'greeting')).stdout.trim(), value);
    // The server saw the client through the server pod's proxy, not directly.
    const clients = (await cli(port, 'CLIENT', 'LIST')).stdout;
    assert.match(clients, new RegExp(`addr=${mesh!.server.ip.replace(/\./g, '\\.')}:`));
    const target = `${mesh!.server.ip}:${port}`;
    await eventually(async () => {
      const [o, i] = await Promise.all([mesh!.client.metrics(), mesh!.server.metrics()]);
      assert.equal(sum(o, 'tcp_close_total', { direction: 'outbound', peer: 'src', target_addr: target, errno: '' }), 3);
      assert.equal(sum(i, 'tcp_close_total', { direction: 'inbound', peer: 'src', target_addr: target, errno: '' }), 3);
      const sent = sum(o, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'src', target_addr: target });
      assert.ok(sent > 0);
      assert.equal(sum(i, 'tcp_write_bytes_total', { direction: 'inbound', peer: 'dst', target_addr: target }), sent);
    });
  }));
}

test('redis-benchmark SET/GET through the mesh', { skip }, logsOnFailure(() => mesh?.cluster, async () => {
  const m = mesh!;
  const target = `${m.server.ip}:6379`;
  const before = sum(await m.client.metrics(), 'tcp_open_total', { direction: 'outbound', peer: 'src', target_addr: target });
  const r = await m.client.runOk('redis-benchmark', ['-h', m.server.ip, '-p', '6379', '-q', '-n', '2000', '-c', '20', '-t', 'set,get'], {
    uid: APP_UID,
    timeoutMs: 120_000,
  });
  const rps = (cmd: string) => Number(new RegExp(`${cmd}: ([\\d.]+) requests per second`).exec(r.stdout)?.[1] ?? NaN);
  process.stderr.write(`# redis-benchmark through the mesh: SET ${rps('SET')} req/s, GET ${rps('GET')} req/s\n`);
  assert.ok(rps('SET') > 0, r.stdout);
  assert.ok(rps('GET') > 0, r.stdout);
  await eventually(async () => {
    const [o, i] = await Promise.all([m.client.metrics(), m.server.metrics()]);
    // 20 clients per test (plus redis-benchmark's own config probe): at least 40 more connections.
    const opened = sum(o, 'tcp_open_total', { direction: 'outbound', peer: 'src', target_addr: target }) - before;
    assert.ok(opened >= 40, `opened ${opened}`);
    assert.equal(sum(o, 'tcp_open_connections', { direction: 'outbound', target_addr: target }), 0);
    assert.equal(sum(i, 'tcp_open_connections', { direction: 'inbound', target_addr: target }), 0);
    const sent = sum(o, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'src', target_addr: target });
    assert.equal(sum(i, 'tcp_write_bytes_total', { direction: 'inbound', peer: 'dst', target_addr: target }), sent);
  }, 10_000);
}));
