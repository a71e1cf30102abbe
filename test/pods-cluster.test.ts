/**
 * The pod helper itself, with plain connectivity (no init, no proxy): pods reach each other over
 * the bridge, apps run as the uid asked for, teardown leaves nothing behind, the sweeper removes
 * a crashed run's namespaces and spares live ones.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APP_UID, Cluster, PROXY_UID, rootSkipReason, sweepStale, type Pod } from './pods/index';
import { run } from '../control/local/pods/exec';

const skip = rootSkipReason();
const TCP_APP = join(__dirname, 'pods', 'tcp-app.js');
let cluster: Cluster | undefined;
let a: Pod;
let b: Pod;

async function namespaces(): Promise<string[]> {
  return (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

before(async () => {
  if (skip) return;
  cluster = await Cluster.create();
  a = await cluster.addPod('a');
  b = await cluster.addPod('b');
});

after(async () => {
  await cluster?.destroy();
});

test('pods get addresses on one subnet and reach each other over the bridge', { skip }, async () => {
  assert.notEqual(a.ip, b.ip);
  assert.equal(a.ip.split('.').slice(0, 3).join('.'), b.ip.split('.').slice(0, 3).join('.'));
  const server = b.spawn(process.execPath, [TCP_APP, 'serve', '--port', '7001', '--send', '300000'], { uid: APP_UID });
  await server.waitForEvent((e) => e.event === 'listening');
  const r = await a.runOk(process.execPath, [TCP_APP, 'connect', '--to', `${b.ip}:7001`, '--send', '1000000'], { uid: APP_UID });
  const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const closed = await server.waitForEvent<{ event: string; received: number; receivedSha: string; sentSha: string }>((e) => e.event === 'closed');
  assert.equal(done.sent, 1_000_000);
  assert.equal(done.received, 300_000);
  assert.equal(closed.received, 1_000_000);
  assert.equal(closed.receivedSha, done.sentSha);
  assert.equal(done.receivedSha, closed.sentSha);
  // The server saw pod a's own address: no NAT on the bridge.
  const accepted = server.events<{ event: string; remote?: string }>().find((e) => e.event === 'accepted')!;
  assert.ok(accepted.remote!.startsWith(`${a.ip}:`), accepted.remote);
  await server.stop();
});

test('apps run as the uid asked for, and never as the proxy uid', { skip }, async () => {
  assert.equal((await a.runOk('id', ['-u'], { uid: APP_UID })).stdout.trim(), String(APP_UID));
  assert.equal((await a.runOk('id', ['-u'])).stdout.trim(), '0');
  await assert.rejects(() => a.run('id', [], { uid: PROXY_UID }), /must not run as uid 2102/);
});

test('an app bound to 127.0.0.1 is not reachable from another pod', { skip }, async () => {
  const server = b.spawn(process.execPath, [TCP_APP, 'serve', '--host', '127.0.0.1', '--port', '7002'], { uid: APP_UID });
  await server.waitForEvent((e) => e.event === 'listening');
  const r = await a.run(process.execPath, [TCP_APP, 'connect', '--to', `${b.ip}:7002`, '--send', '10'], { uid: APP_UID });
  assert.equal(r.code, 3);
  assert.match(r.stdout, /ECONNREFUSED/);
  // ...and reachable inside its own pod, so the refusal above is about the address.
  const local = await b.run(process.execPath, [TCP_APP, 'connect', '--to', '127.0.0.1:7002', '--send', '10'], { uid: APP_UID });
  assert.equal(local.code, 0, local.stdout + local.stderr);
  await server.stop();
});

test('a process that exits without destroy() still leaves no namespace behind', { skip }, async () => {
  const script = `
    const { Cluster } = require(${JSON.stringify(join(__dirname, '..', 'control', 'local', 'pods', 'cluster.js'))});
    (async () => {
      const c = await Cluster.create();
      const p = await c.addPod('x');
      p.spawn('sleep', ['600']);
      console.log(c.id);
      process.exit(0); // no destroy()
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  const id = r.stdout.trim();
  assert.match(id, /^lnp\d+x[0-9a-f]{4}$/, r.stderr);
  assert.deepEqual((await namespaces()).filter((n) => n.startsWith(id)), []);
});

test('destroy kills processes and deletes every namespace; the sweeper removes only dead owners', { skip }, async () => {
  const c = await Cluster.create();
  const p = await c.addPod('x');
  const sleeper = p.spawn('sleep', ['600']);
  const mine = (await namespaces()).filter((n) => n.startsWith(c.id));
  assert.deepEqual(mine.sort(), [`${c.id}-node`, `${c.id}-x`]);
  await c.destroy();
  assert.equal(sleeper.running, false);
  assert.deepEqual((await namespaces()).filter((n) => n.startsWith(c.id)), []);
  assert.equal(existsSync(`/proc/${sleeper.pid}`), false);

  // A "crashed run": a namespace named for a pid that no longer exists.
  const dead = spawnSync('true').pid!;
  const stale = `lnp${dead}xdead-node`;
  const live = `lnp${process.pid}xbeef-node`;
  await run(['ip', 'netns', 'add', stale]);
  await run(['ip', 'netns', 'add', live]);
  try {
    const swept = await sweepStale();
    assert.ok(swept.includes(stale), `swept ${swept.join(',')}`);
    const left = await namespaces();
    assert.ok(!left.includes(stale));
    assert.ok(left.includes(live), 'a live owner\'s namespace must survive the sweep');
    assert.ok(left.includes(cluster!.nodeNs), 'this run\'s cluster must survive the sweep');
  } finally {
    await run(['ip', 'netns', 'del', stale]);
    await run(['ip', 'netns', 'del', live]);
  }
});
