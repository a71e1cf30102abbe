/**
 * 100 MB each way at once through both proxies arrives intact (sha256 at both ends), while both
 * proxies' memory stays bounded: a relay that buffered a whole stream would grow by ~100 MB.
 * Both apps stop reading for the first seconds, so the writers run into full buffers: only a
 * relay that honours backpressure (pauses the reading side) stays small then.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { connectTcp, createMesh, eventually, serveTcp, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const SIZE = 100 * 1024 * 1024;
/** Headroom over idle RSS: well below one direction's 100 MB, above GC and socket-buffer noise. */
const BOUND = 64 * 1024 * 1024;
/** How long each app leaves its socket unread while the other side writes as fast as it can. */
const STALL_MS = 3000;
let mesh: Mesh | undefined;

before(async () => {
  if (skip) return;
  mesh = await createMesh();
});
after(async () => {
  await mesh?.cluster.destroy();
});

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

test('100 MB each way arrives intact while proxy RSS stays bounded', { skip, timeout: 180_000 }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server } = mesh!;
  const target = `${server.ip}:7400`;
  const srv = await serveTcp(server, 7400, ['--send', String(SIZE), '--stall-ms', String(STALL_MS)]);
  const idle = { client: client.rss().rss, server: server.rss().rss };
  const peak = { ...idle };
  const sampler = setInterval(() => {
    for (const [name, pod] of [['client', client], ['server', server]] as [keyof typeof peak, Pod][]) {
      try {
        peak[name] = Math.max(peak[name], pod.rss().rss);
      } catch {
        // the proxy exited: the transfer's own assertions will say so
      }
    }
  }, 50);
  const start = Date.now();
  let r;
  try {
    r = await connectTcp(client, target, ['--send', String(SIZE), '--stall-ms', String(STALL_MS)], 150_000);
  } finally {
    clearInterval(sampler);
  }
  const secs = (Date.now() - start - STALL_MS) / 1000;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const done = r.reports[0]!;
  const seen = await srv.waitForEvent<{ event: string; received: number; receivedSha: string; sentSha: string }>((e) => e.event === 'closed');
  assert.equal(done.sent, SIZE);
  assert.equal(seen.received, SIZE);
  assert.equal(done.received, SIZE);
  assert.equal(seen.receivedSha, done.sentSha, 'client→server stream altered');
  assert.equal(done.receivedSha, seen.sentSha, 'server→client stream altered');

  const hwm = { client: client.rss().peak, server: server.rss().peak };
  process.stderr.write(
    `# 2×100 MB in ${secs.toFixed(1)}s after a ${STALL_MS / 1000}s stall (${((2 * SIZE) / 1048576 / secs).toFixed(0)} MB/s); RSS idle→peak sampled (VmHWM): ` +
      `client proxy ${mb(idle.client)}→${mb(peak.client)} (${mb(hwm.client)}), server proxy ${mb(idle.server)}→${mb(peak.server)} (${mb(hwm.server)})\n`,
  );
  for (const name of ['client', 'server'] as const) {
    assert.ok(peak[name] < idle[name] + BOUND, `${name} proxy RSS peaked at ${mb(peak[name])}, idle ${mb(idle[name])}`);
    assert.ok(hwm[name] < idle[name] + BOUND, `${name} proxy VmHWM ${mb(hwm[name])}, idle ${mb(idle[name])}`);
  }
  await eventually(async () => {
    const [o, i] = await Promise.all([client.metrics(), server.metrics()]);
    assert.equal(sum(o, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'src', target_addr: target }), SIZE);
    assert.equal(sum(o, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'dst', target_addr: target }), SIZE);
    assert.equal(sum(i, 'tcp_write_bytes_total', { direction: 'inbound', peer: 'dst', target_addr: target }), SIZE);
    assert.equal(sum(i, 'tcp_write_bytes_total', { direction: 'inbound', peer: 'src', target_addr: target }), SIZE);
  });
  await srv.stop();
}));
