/**
 * Resource exhaustion against the running proxies (client pod → outbound proxy → inbound proxy →
 * recorder upstream in the server pod): slowloris, 10,000 idle connections, a TLS client that
 * never finishes its hello, a 1 MB header block, 100,000 tiny headers, HTTP/2 rapid reset and a
 * CONTINUATION flood. During and after each, an ordinary client must still be served quickly and
 * the proxies' memory must stay bounded. Figures (RSS, what the proxy did to the attacker) are
 * printed for the issue note.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { corpusDir } from '../fuzz/corpus';
import { APP_UID, logsOnFailure, meshSkipReason, type Pod, type PodProcess } from './pods';
import { sum } from '../control/local/pods/prom-text';
import { createMesh, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const H1 = 8090;
const H2 = 8091;
/** The recorder's server-speaks-first port (a banner, as SMTP). */
const BANNER = 8094;
const RECORDER = join(__dirname, 'hostile-recorder.js');
const ATTACK = join(__dirname, 'hostile-attack.js');
const H2_CLIENT = join(__dirname, 'hostile-h2.js');
const MB = 1024 * 1024;
/** The request-head read timeout, short here so slowloris is cut off well inside the attack. */
const HEAD_TIMEOUT_S = 2;
/**
 * Per-worker connection cap on each side, set here rather than derived from the open-file limit
 * so the idle flood meets the same limit on every machine (and costs less CPU on a shared box).
 * The other attacks stay below it.
 */
const MAX_CONNECTIONS = 2000;

let mesh: Mesh | undefined;

before(async () => {
  if (skip) return;
  const env = {
    LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: `${HEAD_TIMEOUT_S}s`,
    LINNET_PROXY_INBOUND_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
  };
  mesh = await createMesh({ clientEnv: env, serverEnv: env });
  const rec = mesh.server.spawn(process.execPath, [RECORDER, String(H1), String(H2), String(BANNER)], { uid: APP_UID, name: 'recorder' });
  await rec.waitForEvent((e) => e.event === 'listening' && e.proto === 'banner');
});
after(async () => {
  await mesh?.cluster.destroy();
});

/**
 * curl's --max-time for a probe: "served" on a shared two-core box, not a latency bound (prompt
 * recovery is checked after each attack). 10 s: on a slow machine the first seconds of the
 * 10,000-connection flood (accepts, detections and evictions on the proxy's one core) held a
 * probe 2.5-5 s.
 */
const PROBE_MAX_S = 10;

/** One ordinary request from another client: status and seconds. */
async function probe(client: Pod, server: Pod, h2 = false, maxSecs = PROBE_MAX_S): Promise<{ code: string; secs: number }> {
  const url = `http://${server.ip}:${h2 ? H2 : H1}/probe`;
  const r = await client.run('curl', ['-sS', '-o', '/dev/null', '--max-time', String(maxSecs), '-w', '%{http_code} %{time_total}', ...(h2 ? ['--http2-prior-knowledge'] : []), url], { uid: APP_UID, timeoutMs: (maxSecs + 5) * 1000 });
  const [code, secs] = r.stdout.trim().split(' ');
  return { code: code ?? 'none', secs: Number(secs) };
}

function rss(m: Mesh): { client: number; server: number } {
  return { client: m.client.rss().rss, server: m.server.rss().rss };
}

const fmt = (b: number) => `${(b / MB).toFixed(0)} MB`;

/**
 * Runs an attack in the client pod; probes while it holds its connections and after it ends.
 * `settleMs`: after the attacker has opened its connections, how long before the probes. A flood
 * at the connection cap is made room in only by connections older than the detect timeout
 * (connection-limit.ts); for that long after the last of a fast burst, every held connection is
 * too young to evict and a new one is refused, by design.
 */
async function underAttack(m: Mesh, name: string, argv: string[], opts: { h2Probe?: boolean; holds?: boolean; settleMs?: number; rssBound?: number; duringAttack?: () => Promise<void> } = {}) {
  const before = rss(m);
  const attack: PodProcess = m.client.spawn('sh', ['-c', `ulimit -n 20000; exec ${process.execPath} ${argv.map((a) => `'${a}'`).join(' ')}`], { uid: APP_UID, name: `attack-${name}` });
  if (opts.holds) await attack.waitForEvent((e) => e.event === 'opened', 120_000);
  else await new Promise((r) => setTimeout(r, 300));
  if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
  const during = [await probe(m.client, m.server, opts.h2Probe), await probe(m.client, m.server, opts.h2Probe)];
  const peak = rss(m);
  await opts.duringAttack?.();
  const result = await attack.waitForEvent<Record<string, unknown>>((e) => e.event === 'attack' || e.event === 'rapid-reset' || e.event === 'continuation-flood', 180_000);
  await new Promise((r) => setTimeout(r, 1000));
  // Recovery: within 20 s of the attack's end another client is served promptly again.
  let afterwards = await probe(m.client, m.server, opts.h2Probe);
  for (let k = 0; k < 20 && !(afterwards.code === '200' && afterwards.secs < 1); k++) {
    await new Promise((r) => setTimeout(r, 1000));
    afterwards = await probe(m.client, m.server, opts.h2Probe);
  }
  const end = rss(m);
  process.stdout.write(
    `# ${name}: attacker ${JSON.stringify(result)}\n#   probes during ${during.map((p) => `${p.code} in ${p.secs.toFixed(3)}s`).join(', ')}; after ${afterwards.code} in ${afterwards.secs.toFixed(3)}s\n` +
      `#   RSS client proxy ${fmt(before.client)} -> ${fmt(peak.client)} -> ${fmt(end.client)}, server proxy ${fmt(before.server)} -> ${fmt(peak.server)} -> ${fmt(end.server)}\n`,
  );
  assert.ok(afterwards.code === '200' && afterwards.secs < 1, `${name}: service did not recover within 20 s (${afterwards.code} in ${afterwards.secs}s)`);
  for (const p of [...during, afterwards]) {
    assert.equal(p.code, '200', `${name}: another client was not served (${p.code})`);
    assert.ok(p.secs < PROBE_MAX_S, `${name}: another client waited ${p.secs}s`);
  }
  const bound = opts.rssBound ?? 150 * MB;
  assert.ok(peak.client - before.client < bound, `${name}: client proxy grew ${fmt(peak.client - before.client)}`);
  assert.ok(peak.server - before.server < bound, `${name}: server proxy grew ${fmt(peak.server - before.server)}`);
  return result;
}

const it = (name: string, body: (m: Mesh) => Promise<void>, timeout = 240_000) =>
  test(name, { skip, timeout }, logsOnFailure(() => mesh?.cluster, () => body(mesh!)));

it('slowloris: 500 connections sending one header byte a second; others are served', async (m) => {
  const r = await underAttack(m, 'slowloris', [ATTACK, 'slowloris', m.server.ip, String(H1), '500', '12'], { holds: true });
  process.stdout.write(`#   slowloris: ${r.stillOpen} of 500 still open after 12 s; first closed after ${r.firstCloseMs} ms; statuses ${JSON.stringify(r.statuses)}\n`);
  // LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: every dribbling connection gets its 408 and is closed,
  // within the timeout plus slack for 500 connections on a shared two-core box.
  assert.equal(r.stillOpen, 0, `slowloris: ${r.stillOpen} of 500 connections still open`);
  assert.ok(Number(r.firstCloseMs) < (HEAD_TIMEOUT_S + 5) * 1000, `slowloris: first close after ${r.firstCloseMs} ms`);
  assert.ok(((r.statuses as Record<string, number>)['408'] ?? 0) > 0, `slowloris: no 408 (${JSON.stringify(r.statuses)})`);
});

it('a TLS client that never finishes its ClientHello (1,000 of them); others are served', async (m) => {
  // Copied where the attacker (run as the app uid) can read it: the checkout may be closed to it.
  const hello = join(m.cluster.logDir, 'tls-openssl.bin');
  copyFileSync(join(corpusDir('detect'), 'tls-openssl.bin'), hello);
  const r = await underAttack(m, 'tls-stall', [ATTACK, 'tls-stall', m.server.ip, String(H1), '1000', '10', hello], { holds: true });
  process.stdout.write(`#   tls-stall: ${r.stillOpen} of 1000 still open after 10 s\n`);
});

it('a 1 MB header block gets 431 and costs no lasting memory', async (m) => {
  const r = await underAttack(m, 'big-head', [ATTACK, 'big-head', m.server.ip, String(H1), String(MB)]);
  assert.equal(r.status, '431', JSON.stringify(r));
});

it('100,000 tiny header fields get 431', async (m) => {
  const r = await underAttack(m, 'many-headers', [ATTACK, 'many-headers', m.server.ip, String(H1), '100000']);
  assert.equal(r.status, '431', JSON.stringify(r));
});

it('HTTP/2 rapid reset (100,000 streams opened and cancelled) leaves the proxy serving', async (m) => {
  const r = await underAttack(m, 'rapid-reset', [H2_CLIENT, m.server.ip, String(H2), '--rapid-reset', '100000'], { h2Probe: true });
  process.stdout.write(`#   rapid reset: ${r.sent} streams sent before ${r.goaway !== undefined ? `GOAWAY ${r.goaway}` : 'the end'}${r.closed ? '; the proxy closed the connection' : ''}${r.stalled ? '; the proxy then stopped reading without closing the connection' : ''}\n`);
  // A session nghttp2 ended with GOAWAY is closed by the proxy's stall watch, never left hanging.
  assert.ok(!r.stalled, `rapid reset: the proxy stopped reading without closing the connection (${JSON.stringify(r)})`);
  if (r.goaway !== undefined) assert.equal(r.closed, true, `rapid reset: GOAWAY but the connection stayed open (${JSON.stringify(r)})`);
});

it('HTTP/2 CONTINUATION flood (10 s of header fragments that never end) is cut off', async (m) => {
  const r: Record<string, unknown> = await underAttack(m, 'continuation-flood', [H2_CLIENT, m.server.ip, String(H2), '--continuation-flood', '10'], { h2Probe: true });
  process.stdout.write(
    `#   continuation: ${((r.bytes as number) / MB).toFixed(2)} MB sent; proxy ${r.goaway !== undefined ? `sent GOAWAY ${r.goaway}` : 'sent no GOAWAY'}${r.closed ? ' and closed the connection' : ', connection left open until the attacker stopped'}\n`,
  );
  assert.ok(r.goaway !== undefined || r.closed === true, 'the proxy refuses a header block that never ends');
  assert.equal(r.closed, true, `continuation flood: the connection stayed open (${JSON.stringify(r)})`);
});

// Last: ten thousand connections leave the kernel and both proxies busy for a while after.
it('10,000 idle connections that never send a byte; others are served', async (m) => {
  let held = { client: 0, server: 0 };
  const limited = async (pod: Pod, direction: string) => {
    const samples = await pod.metrics();
    return {
      open: sum(samples, 'tcp_open_connections', { direction, peer: 'src' }),
      evicted: sum(samples, 'tcp_connections_evicted_total', { direction }),
      refused: sum(samples, 'tcp_connections_refused_total', { direction }),
    };
  };
  // A server-speaks-first session opened before the flood (the oldest connection of all): it
  // carried the banner, so the limit must never take it to make room.
  const smtpLike = m.client.spawn(process.execPath, [ATTACK, 'banner', m.server.ip, String(BANNER)], { uid: APP_UID, name: 'banner-session', stdin: true });
  await smtpLike.waitForEvent((e) => e.event === 'banner-ready', 20_000);
  let client = { open: 0, evicted: 0, refused: 0 };
  let server = { open: 0, evicted: 0, refused: 0 };
  const r = await underAttack(m, 'idle-10k', [ATTACK, 'idle', m.server.ip, String(H1), '10000', '15'], {
    holds: true,
    // Four detect timeouts (250 ms): on a fast machine the attacker opens the last 2,000 within
    // one, and a probe at once was refused (the proof of 3fb2408: 000 in 0.85 s, "evicted=0
    // refused=1"); the flood is still held for the rest of its 15 s.
    settleMs: 1000,
    // While the attacker still holds its connections: what each proxy keeps open.
    duringAttack: async () => {
      [client, server] = await Promise.all([limited(m.client, 'outbound'), limited(m.server, 'inbound')]);
      held = { client: client.open, server: server.open };
    },
  });
  process.stdout.write(
    `#   idle: ${r.opened} opened, ${r.closedByPeer} closed by the proxy; errors ${JSON.stringify(r.errors)}\n` +
      `#   held during the attack: client proxy ${held.client} outbound (evicted ${client.evicted}, refused ${client.refused}), server proxy ${held.server} inbound (evicted ${server.evicted}, refused ${server.refused}); cap ${MAX_CONNECTIONS} per worker and side\n`,
  );
  // LINNET_PROXY_{OUTBOUND,INBOUND}_MAX_CONNECTIONS: the proxies hold at most the cap (without it
  // the client proxy held every one of the 10,000) and made room by closing silent connections.
  assert.ok(held.client <= MAX_CONNECTIONS, `client proxy held ${held.client} outbound connections`);
  assert.ok(held.server <= MAX_CONNECTIONS, `server proxy held ${held.server} inbound connections`);
  assert.ok(client.evicted + client.refused > 0, 'the client proxy never acted on its connection limit');
  assert.ok(Number(r.closedByPeer) > 0, 'the attacker lost no connection to the limit');
  smtpLike.stdin!.write('check\n');
  const session = await smtpLike.waitForEvent<{ event: string; answered: boolean; closedEarly: boolean }>((e) => e.event === 'banner', 20_000);
  process.stdout.write(`#   server-speaks-first session held through the flood: ${JSON.stringify(session)}\n`);
  assert.equal(session.closedEarly, false, 'the limit closed a server-speaks-first session');
  assert.equal(session.answered, true, 'the server-speaks-first session no longer answers');
});
