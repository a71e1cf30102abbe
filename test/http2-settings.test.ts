/**
 * LINNET_PROXY_HTTP2_* reach the wire: a raw HTTP/2 client in the client pod reads the SETTINGS
 * frame and the connection WINDOW_UPDATE the outbound proxy sends it, and a raw upstream in the
 * server pod reads what the inbound proxy's upstream session sends. A bad value stops start-up
 * with a message naming the variable and the accepted form.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { APP_UID, LINNET_BIN, logsOnFailure, meshSkipReason } from './pods';
import { createMesh, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const PEER = join(__dirname, 'http2-settings-peer.js');
const PORT = 8093;
/** RFC 9113 §6.5.2 identifiers. */
const MAX_CONCURRENT_STREAMS = '3';
const INITIAL_WINDOW_SIZE = '4';
const MAX_HEADER_LIST_SIZE = '6';
const ENABLE_PUSH = '2';

const ENV = {
  LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS: '37',
  LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE: '300000',
  LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE: '5000000',
  LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE: '12345',
  LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB: '8',
};

let mesh: Mesh | undefined;
before(async () => {
  if (skip) return;
  // The keep-alive differs on purpose: 1 s on the client pod's proxy, off on the server pod's.
  mesh = await createMesh({ clientEnv: { ...ENV, LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT: '1s' }, serverEnv: { ...ENV, LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT: '0' } });
});
after(async () => {
  await mesh?.cluster.destroy();
});

interface Seen {
  settings: Record<string, number>;
  connectionWindowIncrement?: number;
}

test('the proxy advertises the configured settings to an HTTP/2 client', { skip, timeout: 60_000 }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server } = mesh!;
  const r = await client.run(process.execPath, [PEER, 'client', server.ip, String(PORT)], { uid: APP_UID, timeoutMs: 20_000 });
  const seen = JSON.parse(r.stdout.trim().split('\n').pop()!) as Seen;
  assert.equal(seen.settings[MAX_CONCURRENT_STREAMS], 37, JSON.stringify(seen));
  assert.equal(seen.settings[INITIAL_WINDOW_SIZE], 300_000, JSON.stringify(seen));
  assert.equal(seen.settings[MAX_HEADER_LIST_SIZE], 12_345, JSON.stringify(seen));
  // The connection window starts at 65535 for everyone; the proxy raises it to the setting.
  assert.equal(seen.connectionWindowIncrement, 5_000_000 - 65_535, JSON.stringify(seen));
}));

test('the proxy opens its upstream HTTP/2 session with the configured settings', { skip, timeout: 60_000 }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server } = mesh!;
  const up = server.spawn(process.execPath, [PEER, 'server', String(PORT)], { uid: APP_UID, name: 'h2-settings-upstream' });
  try {
    await up.waitForEvent((e) => e.event === 'listening');
    // Any prior-knowledge request makes the inbound proxy open its upstream session.
    await client.run('curl', ['-sS', '-o', '/dev/null', '--max-time', '3', '--http2-prior-knowledge', `http://${server.ip}:${PORT}/`], { uid: APP_UID, timeoutMs: 10_000 });
    const seen = await up.waitForEvent<Seen & { event: string }>((e) => e.event === 'settings', 10_000);
    assert.equal(seen.settings[INITIAL_WINDOW_SIZE], 300_000, JSON.stringify(seen));
    assert.equal(seen.settings[MAX_HEADER_LIST_SIZE], 12_345, JSON.stringify(seen));
    assert.equal(seen.settings[ENABLE_PUSH], 0, JSON.stringify(seen));
    assert.equal(seen.connectionWindowIncrement, 5_000_000 - 65_535, JSON.stringify(seen));
  } finally {
    await up.stop(1000);
  }
}));

test('a silent HTTP/2 client that never answers PING is closed after LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT; 0 leaves it open', { skip, timeout: 60_000 }, logsOnFailure(() => mesh?.cluster, async () => {
  const { client, server, cluster } = mesh!;
  // Through the client pod's outbound proxy (1 s): pinged, then closed.
  const r = await client.run(process.execPath, [PEER, 'silent', server.ip, String(PORT), '8'], { uid: APP_UID, timeoutMs: 20_000 });
  const seen = JSON.parse(r.stdout.trim().split('\n').pop()!) as { event: string; afterMs: number; pings: number };
  assert.equal(seen.event, 'closed', JSON.stringify(seen));
  assert.ok(seen.pings >= 1 && seen.afterMs < 6000, JSON.stringify(seen));
  // Straight to the server pod's inbound proxy (keep-alive off): still open when the peer gives up.
  const n = spawnSync('ip', ['netns', 'exec', cluster.nodeNs, process.execPath, PEER, 'silent', server.ip, String(PORT), '5'], { encoding: 'utf8', timeout: 20_000 });
  const off = JSON.parse(n.stdout.trim().split('\n').pop()!) as { event: string; pings: number };
  assert.equal(off.event, 'open', JSON.stringify(off));
  assert.equal(off.pings, 0, JSON.stringify(off));
}));

test('a bad HTTP/2 setting stops start-up naming the variable and the accepted form', () => {
  for (const [name, value, form] of [
    ['LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE', '1', 'a whole number of bytes from 65535 to 2147483647'],
    ['LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS', 'many', 'a whole number from 1 to 4294967295'],
  ]) {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LINNET_PROXY_')) env[k] = v;
    // Configuration is checked before anything is opened: no namespace or root needed.
    const r = spawnSync(process.execPath, [LINNET_BIN, 'proxy'], { env: { ...env, [name!]: value }, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0, `${name}=${value}: the proxy started`);
    assert.ok(r.stderr.includes(`${name}=${JSON.stringify(value)} is not valid; expected ${form}`), r.stderr);
  }
});
