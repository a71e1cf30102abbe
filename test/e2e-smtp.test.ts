/**
 * Real SMTP through the mesh: postfix's smtp-sink in the server pod, swaks in the client pod.
 * SMTP is server-speaks-first: the client sends nothing until the greeting, so on a port that is
 * not opaque each proxy must give up detection after its timeout and forward the silent
 * connection as opaque TCP with no byte lost. The same with the port marked opaque skips that wait.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, logsOnFailure, meshSkipReason, sum, type Pod } from './pods';
import { createMesh, eventually, type Mesh } from './pods/mesh';

const skip = meshSkipReason();
const DEFAULT_OPAQUE = '25,587,3306,4444,5432,6379,9300,11211';
const DETECTED = 2525; // not in any opaque list: the detect-timeout path
const OPAQUE = 2526; // added to both proxies' opaque lists
let mesh: Mesh | undefined;
let dumpDir = '';

before(async () => {
  if (skip) return;
  // Default settings, except that 2526 joins the opaque lists (2525 stays unconfigured).
  const env = {
    LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: `${DEFAULT_OPAQUE},${OPAQUE}`,
    LINNET_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: `${DEFAULT_OPAQUE},${OPAQUE}`,
  };
  mesh = await createMesh({ clientEnv: env, serverEnv: env });
  dumpDir = join(mesh.cluster.logDir, 'smtp-sink');
  mkdirSync(dumpDir);
  chmodSync(dumpDir, 0o777); // smtp-sink runs as the app uid
  for (const port of [DETECTED, OPAQUE]) {
    mesh.server.spawn('smtp-sink', ['-d', join(dumpDir, `${port}-%M.`), `0.0.0.0:${port}`, '16'], { uid: APP_UID, name: `smtp-sink-${port}` });
  }
  await eventually(async () => {
    const r = await mesh!.server.run('ss', ['-ltnH']);
    for (const port of [DETECTED, OPAQUE]) assert.match(r.stdout, new RegExp(`:${port}\\b`));
  });
});
after(async () => {
  await mesh?.cluster.destroy();
});

async function sendMail(client: Pod, server: Pod, port: number, token: string): Promise<number> {
  const start = Date.now();
  const r = await client.run(
    'swaks',
    ['--to', 'rcpt@example.com', '--from', 'sender@example.com', '--server', `${server.ip}:${port}`, '--header', `Subject: ${token}`, '--body', `body ${token}`, '--timeout', '20'],
    { uid: APP_UID, timeoutMs: 30_000 },
  );
  const elapsed = Date.now() - start;
  assert.equal(r.code, 0, `swaks failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /<-\s+250 2\.0\.0 Ok/);
  return elapsed;
}

function dumped(port: number, token: string): string {
  const files = readdirSync(dumpDir).filter((f) => f.startsWith(`${port}-`));
  const hit = files.map((f) => readFileSync(join(dumpDir, f), 'utf8')).find((t) => t.includes(`body ${token}`));
  assert.ok(hit, `no message with ${token} among ${files.length} dumped on port ${port}`);
  return hit;
}

async function assertCounted(m: Mesh, port: number): Promise<void> {
  const target = `${m.server.ip}:${port}`;
  await eventually(async () => {
    const [o, i] = await Promise.all([m.client.metrics(), m.server.metrics()]);
    for (const [s, direction] of [[o, 'outbound'], [i, 'inbound']] as const) {
      assert.equal(sum(s, 'tcp_open_total', { direction, peer: 'src', target_addr: target }), 1, `${direction} open`);
      assert.equal(sum(s, 'tcp_close_total', { direction, peer: 'src', target_addr: target, errno: '' }), 1, `${direction} close`);
    }
    // Bytes are conserved across the mesh: what swaks sent is what reached smtp-sink, and back.
    const fromClient = sum(o, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'src', target_addr: target });
    const toClient = sum(o, 'tcp_write_bytes_total', { direction: 'outbound', peer: 'src', target_addr: target });
    assert.ok(fromClient > 100 && toClient > 100, `bytes ${fromClient}/${toClient}`);
    assert.equal(sum(o, 'tcp_write_bytes_total', { direction: 'outbound', peer: 'dst', target_addr: target }), fromClient);
    assert.equal(sum(i, 'tcp_read_bytes_total', { direction: 'inbound', peer: 'src', target_addr: target }), fromClient);
    assert.equal(sum(i, 'tcp_write_bytes_total', { direction: 'inbound', peer: 'dst', target_addr: target }), fromClient);
    assert.equal(sum(i, 'tcp_read_bytes_total', { direction: 'inbound', peer: 'dst', target_addr: target }), toClient);
  });
}

let detectedMs = 0;

test('SMTP (server speaks first) crosses the mesh with no configuration, via the detect timeout', { skip }, logsOnFailure(() => mesh?.cluster, async () => {
  const m = mesh!;
  detectedMs = await sendMail(m.client, m.server, DETECTED, 'linnet-detect-path');
  const msg = dumped(DETECTED, 'linnet-detect-path');
  // The sink's client is the server pod's own proxy: the mail really came through the mesh.
  assert.match(msg, new RegExp(`X-Client-Addr: ${m.server.ip.replace(/\./g, '\\.')}\\b`));
  // Both proxies waited out their detect timeout (250ms default) before the greeting could flow.
  assert.ok(detectedMs >= 480, `took ${detectedMs}ms; two 250ms detect timeouts expected`);
  await assertCounted(m, DETECTED);
}));

test('SMTP on a port marked opaque crosses the mesh without the detection wait', { skip }, logsOnFailure(() => mesh?.cluster, async () => {
  const m = mesh!;
  const ms = await sendMail(m.client, m.server, OPAQUE, 'linnet-opaque-path');
  dumped(OPAQUE, 'linnet-opaque-path');
  process.stderr.write(`# swaks through the mesh: ${detectedMs}ms with detection (port ${DETECTED}), ${ms}ms opaque (port ${OPAQUE})\n`);
  assert.ok(detectedMs === 0 || ms < detectedMs - 250, `opaque took ${ms}ms vs ${detectedMs}ms with detection`);
  await assertCounted(m, OPAQUE);
}));
