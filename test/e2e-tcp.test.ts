/**
 * End to end, plain TCP through two meshed pods: client pod (outbound proxy) → server pod
 * (inbound proxy) → app. Real namespaces, real iptables from `linnet init`, real proxies as uid
 * 2102, apps as uid 1000. Each test uses its own ports so metric series do not mix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_UID, logsOnFailure, meshSkipReason, sum, type Sample } from './pods';
import { connectTcp, createMesh, eventually, serveTcp, TCP_APP, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
let mesh: Mesh | undefined;
const SKIP_OUT = 7101; // skipped outbound in the client pod
const SKIP_IN = 7102; // skipped inbound in the server pod

before(async () => {
  if (skip) return;
  mesh = await createMesh({
    clientInit: { outboundPortsToIgnore: [SKIP_OUT] },
    // The two pods use the two iptables back ends, so both redirect real traffic here.
    serverInit: { inboundPortsToIgnore: [SKIP_IN], mode: 'legacy' },
  });
});
after(async () => {
  await mesh?.cluster.destroy();
});

const it = (name: string, body: (m: Mesh) => Promise<void>) =>
  test(name, { skip }, logsOnFailure(() => mesh?.cluster, () => body(mesh!)));

/** The four byte counters of one proxy side for one target, as an object assert can compare. */
function bytes(s: Sample[], direction: string, target: string) {
  const f = (name: string, peer: string) => sum(s, name, { direction, peer, target_addr: target });
  return {
    srcRead: f('tcp_read_bytes_total', 'src'),
    srcWrite: f('tcp_write_bytes_total', 'src'),
    dstRead: f('tcp_read_bytes_total', 'dst'),
    dstWrite: f('tcp_write_bytes_total', 'dst'),
  };
}

function conns(s: Sample[], direction: string, target: string) {
  const f = (name: string, peer: string, extra: Record<string, string> = {}) => sum(s, name, { direction, peer, target_addr: target, ...extra });
  return {
    srcOpen: f('tcp_open_total', 'src'),
    dstOpen: f('tcp_open_total', 'dst'),
    srcClosedClean: f('tcp_close_total', 'src', { errno: '' }),
    dstClosedClean: f('tcp_close_total', 'dst', { errno: '' }),
    stillOpen: f('tcp_open_connections', 'src') + f('tcp_open_connections', 'dst'),
  };
}

it('init wrote its rules with the back end asked for (client nft, server legacy)', async ({ client, server }) => {
  const nft = await client.runOk('iptables-nft-save', ['-t', 'nat']);
  const legacy = await server.runOk('iptables-legacy-save', ['-t', 'nat']);
  assert.match(nft.stdout, /proxy-init\/redirect-all-outgoing-to-proxy-port/);
  assert.match(legacy.stdout, /proxy-init\/redirect-all-incoming-to-proxy-port/);
  assert.doesNotMatch((await server.runOk('iptables-nft-save', ['-t', 'nat'])).stdout, /proxy-init/);
});

it('a client in pod A reaches a server in pod B through both proxies, counted with exact bytes', async ({ client, server }) => {
  const target = `${server.ip}:7000`;
  const srv = await serveTcp(server, 7000, ['--send', '5000']);
  const r = await connectTcp(client, target, ['--send', '12345']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const done = r.reports[0]!;
  // The client's 12345 bytes and its FIN arrive together, while the proxies are still detecting
  // the protocol: the FIN must not be lost there, or the server app never sees the end.
  const seen = await srv
    .waitForEvent<{ event: string; received: number; receivedSha: string; sentSha: string }>((e) => e.event === 'closed', 5000)
    .catch(() => undefined);
  assert.ok(seen, `the server app never saw the end of the connection: the client's FIN (sent with its first bytes) was not carried; server app: ${srv.stdout}`);
  assert.equal(done.received, 5000);
  assert.equal(seen.received, 12345);
  assert.equal(seen.receivedSha, done.sentSha);
  assert.equal(done.receivedSha, seen.sentSha);

  // The server app's peer is its own pod's proxy (the inbound proxy dials from the pod address).
  const accepted = srv.events<{ event: string; remote?: string }>().find((e) => e.event === 'accepted')!;
  assert.ok(accepted.remote!.startsWith(`${server.ip}:`), `server saw ${accepted.remote}`);

  const expected = { srcRead: 12345, srcWrite: 5000, dstRead: 5000, dstWrite: 12345 };
  await eventually(async () => {
    const out = await client.metrics();
    const inb = await server.metrics();
    assert.deepEqual(conns(out, 'outbound', target), { srcOpen: 1, dstOpen: 1, srcClosedClean: 1, dstClosedClean: 1, stillOpen: 0 });
    assert.deepEqual(conns(inb, 'inbound', target), { srcOpen: 1, dstOpen: 1, srcClosedClean: 1, dstClosedClean: 1, stillOpen: 0 });
    assert.deepEqual(bytes(out, 'outbound', target), expected);
    assert.deepEqual(bytes(inb, 'inbound', target), expected);
  });
  await srv.stop();
});

it('plain TCP is relayed by the kernel (splice) on both proxies, its bytes counted mid-connection and at close', async ({ client, server }) => {
  const target = `${server.ip}:7001`;
  const relays = async () => {
    const [o, i] = await Promise.all([client.metrics(), server.metrics()]);
    const f = (m: Sample[], direction: string, relay: string) => sum(m, 'tcp_relay_total', { direction, relay });
    return { outSplice: f(o, 'outbound', 'splice'), inSplice: f(i, 'inbound', 'splice'), outUser: f(o, 'outbound', 'userspace'), inUser: f(i, 'inbound', 'userspace') };
  };
  const r0 = await relays();
  const srv = await serveTcp(server, 7001, ['--send', '5000']);
  // The client sends 10000 bytes, waits 2 s with the connection open, then sends 20000 more.
  const cli = client.spawn(process.execPath, [TCP_APP, 'connect', '--to', target, '--send', '30000', '--pause-after', '10000', '--pause-ms', '2000'], { uid: APP_UID, name: 'tcp-connect-7001' });
  await cli.waitForEvent((e) => e.event === 'paused');
  // Mid-connection: a scrape brings the spliced sockets' counts up to date, as for any socket.
  const mid = { srcRead: 10000, srcWrite: 5000, dstRead: 5000, dstWrite: 10000 };
  await eventually(async () => {
    const [out, inb] = await Promise.all([client.metrics(), server.metrics()]);
    assert.deepEqual(bytes(out, 'outbound', target), mid);
    assert.deepEqual(bytes(inb, 'inbound', target), mid);
    assert.equal(sum(out, 'tcp_open_connections', { direction: 'outbound', target_addr: target }), 2);
    assert.equal(sum(inb, 'tcp_open_connections', { direction: 'inbound', target_addr: target }), 2);
  }, 1500);
  assert.deepEqual(await relays(), { ...r0, outSplice: r0.outSplice + 1, inSplice: r0.inSplice + 1 });
  await cli.exited;
  const seen = await srv.waitForEvent<{ event: string; received: number }>((e) => e.event === 'closed');
  assert.equal(seen.received, 30000);
  const end = { srcRead: 30000, srcWrite: 5000, dstRead: 5000, dstWrite: 30000 };
  await eventually(async () => {
    const [out, inb] = await Promise.all([client.metrics(), server.metrics()]);
    assert.deepEqual(bytes(out, 'outbound', target), end);
    assert.deepEqual(bytes(inb, 'inbound', target), end);
    assert.deepEqual(conns(out, 'outbound', target), { srcOpen: 1, dstOpen: 1, srcClosedClean: 1, dstClosedClean: 1, stillOpen: 0 });
    assert.deepEqual(conns(inb, 'inbound', target), { srcOpen: 1, dstOpen: 1, srcClosedClean: 1, dstClosedClean: 1, stillOpen: 0 });
  });
  await srv.stop();
});

it('skipped inbound and outbound ports bypass the proxy; other ports do not', async ({ client, server }) => {
  const servers = await Promise.all([SKIP_OUT, SKIP_IN, 7103].map((p) => serveTcp(server, p, ['--send', '100'])));
  const totals = async () => {
    const [o, i] = await Promise.all([client.metrics(), server.metrics()]);
    return { out: sum(o, 'tcp_open_total', { direction: 'outbound' }), in: sum(i, 'tcp_open_total', { direction: 'inbound' }) };
  };
  const settle = async (want: { out: number; in: number }) => eventually(async () => assert.deepEqual(await totals(), want));
  const t0 = await totals();

  // Skipped outbound in A: A's proxy never sees it, B's inbound still does.
  let r = await connectTcp(client, `${server.ip}:${SKIP_OUT}`, ['--send', '10']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await settle({ out: t0.out, in: t0.in + 2 });

  // Skipped inbound in B: A's outbound sees it, B's proxy never does.
  r = await connectTcp(client, `${server.ip}:${SKIP_IN}`, ['--send', '10']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await settle({ out: t0.out + 2, in: t0.in + 2 });

  // Neither skipped: both proxies count it (src and dst side each).
  r = await connectTcp(client, `${server.ip}:7103`, ['--send', '10']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await settle({ out: t0.out + 4, in: t0.in + 4 });
  for (const rep of r.reports) assert.equal(rep.received, 100);
  await Promise.all(servers.map((s) => s.stop()));
});

it('an app bound to 127.0.0.1 is not reachable through the inbound proxy; bound to 0.0.0.0 it is', async ({ client, server }) => {
  const local = await serveTcp(server, 7201, ['--send', '100'], '127.0.0.1');
  const all = await serveTcp(server, 7202, ['--send', '100'], '0.0.0.0');

  const refused = await connectTcp(client, `${server.ip}:7201`, ['--send', '10']);
  assert.equal(refused.reports[0]!.received, 0);
  assert.equal(refused.reports[0]!.error, 'ECONNRESET', refused.stdout);
  assert.equal(local.events().filter((e) => e.event === 'accepted').length, 0, 'the loopback-only app must not be reached');

  const ok = await connectTcp(client, `${server.ip}:7202`, ['--send', '10']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.reports[0]!.received, 100);
  assert.equal(all.events().filter((e) => e.event === 'accepted').length, 1);

  await eventually(async () => {
    const m = await server.metrics();
    assert.equal(sum(m, 'tcp_connect_errors_total', { direction: 'inbound', target_addr: `${server.ip}:7201`, errno: 'ECONNREFUSED' }), 1);
  });
  await Promise.all([local.stop(), all.stop()]);
});

it('half-close is carried: the client shuts down writing and still receives the reply', async ({ client, server }) => {
  // --after-eof: the server replies only once it has seen the client's FIN, so the reply
  // arriving proves the FIN crossed both proxies while the other direction stayed open.
  const srv = await serveTcp(server, 7300, ['--after-eof', '--send', '7000']);
  const r = await connectTcp(client, `${server.ip}:7300`, ['--send', '20000'], 15_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const seen = await srv.waitForEvent<{ event: string; received: number; sentSha: string }>((e) => e.event === 'closed');
  assert.equal(seen.received, 20000);
  assert.equal(r.reports[0]!.received, 7000);
  assert.equal(r.reports[0]!.receivedSha, seen.sentSha);
  await srv.stop();
});

it('a reset is carried: the server resets, the client sees ECONNRESET, metrics record it', async ({ client, server }) => {
  const target = `${server.ip}:7301`;
  const srv = await serveTcp(server, 7301, ['--reset']);
  // --hold: the client does not end its side, so only a carried RST can finish it.
  const r = await connectTcp(client, target, ['--send', '10', '--hold'], 15_000);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.equal(r.reports[0]!.error, 'ECONNRESET');
  assert.equal(r.reports[0]!.received, 0);
  await srv.waitForEvent((e) => e.event === 'closed');
  await eventually(async () => {
    const m = await server.metrics();
    assert.equal(sum(m, 'tcp_close_total', { direction: 'inbound', peer: 'dst', target_addr: target, errno: 'ECONNRESET' }), 1);
    const o = await client.metrics();
    assert.equal(sum(o, 'tcp_close_total', { direction: 'outbound', peer: 'dst', target_addr: target, errno: 'ECONNRESET' }), 1);
  });
  await srv.stop();
});

it('a refused connection is reset to the client and counted in metrics', async ({ client, server }) => {
  const target = `${server.ip}:7399`; // nothing listens there
  const r = await connectTcp(client, target, ['--send', '10'], 15_000);
  assert.equal(r.code, 3);
  assert.equal(r.reports[0]!.error, 'ECONNRESET', r.stdout);
  await eventually(async () => {
    const m = await server.metrics();
    assert.equal(sum(m, 'tcp_connect_errors_total', { direction: 'inbound', target_addr: target, errno: 'ECONNREFUSED' }), 1);
    assert.equal(sum(m, 'tcp_close_total', { direction: 'inbound', peer: 'src', target_addr: target, errno: 'ECONNREFUSED' }), 1);
    assert.equal(sum(m, 'tcp_open_connections', { direction: 'inbound', target_addr: target }), 0);
  });
});
