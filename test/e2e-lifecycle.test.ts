/**
 * Proxy lifecycle end to end: two worker threads share the inbound listener (connections land in
 * both workers' event loops and /metrics adds both up), and SIGTERM drains (new connections are
 * refused, an open one still finishes, then the proxy exits).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_UID, logsOnFailure, meshSkipReason, sum } from './pods';
import { connectionsPerEventLoop } from './pods/event-loops';
import { TCP_APP, connectTcp, createMesh, eventually, serveTcp, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
let mesh: Mesh | undefined;

before(async () => {
  if (skip) return;
  mesh = await createMesh({
    clientEnv: { LINNET_PROXY_WORKERS: '1', LINNET_PROXY_SHUTDOWN_GRACE_PERIOD: '20s' },
    serverEnv: { LINNET_PROXY_WORKERS: '2' },
  });
});
after(async () => {
  await mesh?.cluster.destroy();
});

test('LINNET_PROXY_WORKERS=2: connections spread over both workers and /metrics adds both up', { skip }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server } = mesh!;
  const N = 24;
  const target = `${server.ip}:7600`;
  // The server replies only after the client's FIN, and --hold means no FIN: all N stay open.
  const srv = await serveTcp(server, 7600, ['--after-eof']);
  const conns = client.spawn(process.execPath, [TCP_APP, 'connect', '--to', target, '--send', '100', '--connections', String(N), '--hold'], {
    uid: APP_UID,
    name: 'holders',
  });
  try {
    await eventually(() => assert.equal(srv.events().filter((e) => e.event === 'accepted').length, N), 10_000);
    await sleep(200); // let each loop register its new sockets with epoll
    const spread = connectionsPerEventLoop(server.proxy!.pid, 4143);
    const single = connectionsPerEventLoop(client.proxy!.pid, 4140);
    process.stderr.write(`# inbound connections per event loop with 2 workers: [${spread}]; outbound with 1 worker: [${single}]\n`);
    assert.deepEqual(single, [N], 'control: a one-worker proxy holds every connection in one loop');
    assert.equal(spread.length, 2, `expected connections in two event loops, got [${spread}]`);
    assert.equal(spread[0]! + spread[1]!, N);
    // The merged view counts every connection once, whichever worker holds it.
    const m = await server.metrics();
    assert.equal(sum(m, 'tcp_open_connections', { direction: 'inbound', peer: 'src', target_addr: target }), N);
    assert.equal(sum(m, 'tcp_open_connections', { direction: 'inbound', peer: 'dst', target_addr: target }), N);
    assert.equal(sum(m, 'tcp_open_total', { direction: 'inbound', peer: 'src', target_addr: target }), N);
    await eventually(async () => {
      const r = await server.metrics();
      assert.equal(sum(r, 'tcp_read_bytes_total', { direction: 'inbound', peer: 'src', target_addr: target }), 100 * N);
    });
  } finally {
    await conns.stop();
    await srv.stop();
  }
  await eventually(async () => {
    const m = await server.metrics();
    assert.equal(sum(m, 'tcp_open_connections', { direction: 'inbound', target_addr: target }), 0);
    assert.equal(sum(m, 'tcp_close_total', { direction: 'inbound', peer: 'src', target_addr: target }), N);
  });
}));

test('SIGTERM drains: new connections are refused, an open one finishes, then the proxy exits', { skip, timeout: 60_000 }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server } = mesh!;
  const target = `${server.ip}:7700`;
  const srv = await serveTcp(server, 7700, ['--after-eof', '--send', '5000']);
  // Sends half, pauses 3s (during which the proxy is told to stop), sends the rest, ends.
  const open = client.spawn(process.execPath, [TCP_APP, 'connect', '--to', target, '--send', '200000', '--pause-after', '100000', '--pause-ms', '3000'], {
    uid: APP_UID,
    name: 'in-flight',
  });
  await open.waitForEvent((e) => e.event === 'paused');
  await srv.waitForEvent((e) => e.event === 'accepted');
  const termAt = Date.now();
  client.proxy!.signal('SIGTERM');
  await sleep(300);

  const late = await connectTcp(client, target, ['--send', '10'], 10_000);
  assert.equal(late.code, 3, late.stdout);
  assert.equal(late.reports[0]!.error, 'ECONNREFUSED', 'a new connection during the drain must be refused');
  assert.equal(srv.events().filter((e) => e.event === 'accepted').length, 1, 'the refused connection must not reach the server');
  assert.ok(client.proxy!.running, 'the proxy must wait for the open connection');

  const exit = await open.wait(20_000);
  assert.equal(exit.code, 0, open.stdout);
  const done = open.events<{ event: string; sent: number; received: number; receivedSha: string; sentSha: string }>().find((e) => e.event === 'done')!;
  const seen = await srv.waitForEvent<{ event: string; received: number; receivedSha: string; sentSha: string }>((e) => e.event === 'closed');
  assert.equal(seen.received, 200000);
  assert.equal(seen.receivedSha, done.sentSha);
  assert.equal(done.received, 5000);
  assert.equal(done.receivedSha, seen.sentSha);

  // With its last connection closed, the proxy exits well before the 20s grace period.
  const proxyExit = await client.proxy!.wait(10_000);
  assert.equal(proxyExit.code, 0, client.proxy!.logTail(20));
  assert.ok(Date.now() - termAt < 15_000);
  await srv.stop();
}));
