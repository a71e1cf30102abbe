/**
 * The supervisor replaces a worker thread that dies — before the first certificate (identity
 * configured, control plane unreachable, /ready 503) as well as after — with a restart backoff
 * and a log line that says why. The real proxy (proxy/supervisor.ts, its worker threads and
 * SO_REUSEPORT listeners) runs in this process on loopback; the test ends a worker thread with
 * worker.terminate() through the test-only `onWorker` hook and watches the listener come back:
 * connections are refused while no worker listens, and accepted and handled by the replacement
 * after (without iptables the handler finds no redirected destination and resets the connection,
 * which is the worker's own code answering).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { loadProxyConfig } from '../proxy/runtime/config';
import { createLogger } from '../core/log';
import { startProxy } from '../proxy/runtime/supervisor';
import { linnetCa, tempDir, WEB } from './identity/helpers';
import { LINNET_BIN } from './pods';

/** `n` distinct free loopback ports (held open together, so no two are the same). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** How a TCP connection to the port goes: refused (no listener), or accepted and then ended by the proxy. */
function probe(port: number): Promise<'refused' | 'handled' | 'open'> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let refused = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, 2000);
    // The reset can overtake the connect event (busy loop), so tell by the error, not by 'connect'.
    s.on('error', (e: NodeJS.ErrnoException) => (refused = e.code === 'ECONNREFUSED'));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(refused ? 'refused' : 'handled');
    });
  });
}

async function until<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T;
  for (;;) {
    last = await f();
    if (ok(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function proxyEnv(extra: (unused: number) => Record<string, string>): Promise<{ env: Record<string, string>; outbound: number; admin: number }> {
  const [inbound, outbound, admin, unused] = (await freePorts(4)) as [number, number, number, number];
  const env = {
    LINNET_PROXY_INBOUND_LISTEN_ADDR: `127.0.0.1:${inbound}`,
    LINNET_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${outbound}`,
    LINNET_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${admin}`,
    LINNET_PROXY_WORKERS: '1',
    LINNET_PROXY_LOG: 'error',
    ...extra(unused),
  };
  return { env, outbound, admin };
}

test('workers that die before the first certificate are replaced; the proxy serves again; still not ready', { timeout: 60_000 }, async () => {
  const ca = tempDir('respawn');
  await linnetCa(ca.dir);
  writeFileSync(join(ca.dir, 'token'), 'web-token');
  // The identity service is a port nobody listens on: the proxy keeps trying, never certified.
  const { env, outbound, admin } = await proxyEnv((unused) => ({
    LINNET_PROXY_WORKERS: '2',
    LINNET_PROXY_IDENTITY_SVC_ADDR: `127.0.0.1:${unused}`,
    LINNET_PROXY_IDENTITY_LOCAL_NAME: WEB,
    LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: join(ca.dir, 'ca.crt'),
    LINNET_PROXY_IDENTITY_TOKEN_FILE: join(ca.dir, 'token'),
  }));
  const lines: string[] = [];
  const threads: Worker[] = [];
  const proxy = await startProxy(loadProxyConfig(env), { log: createLogger('info', 'proxy', (l) => lines.push(l)), onWorker: (w) => threads.push(w) });
  try {
    assert.equal((await get(admin, '/ready')).status, 503, 'not ready without a certificate');
    assert.equal(await probe(outbound), 'handled');
    assert.equal(threads.length, 2);

    await Promise.all([threads[0]!.terminate(), threads[1]!.terminate()]);
    // Both listeners went with their threads.
    assert.equal(await probe(outbound), 'refused');
    // /metrics does not wait on a dead worker.
    const t0 = Date.now();
    assert.equal((await get(admin, '/metrics')).status, 200);
    assert.ok(Date.now() - t0 < 1500, `metrics took ${Date.now() - t0} ms with the workers gone`);

    await until('replacement workers', () => threads.length, (n) => n === 4);
    await until('outbound listener back', () => probe(outbound), (r) => r === 'handled');
    const old = new Set([threads[0]!.threadId, threads[1]!.threadId]);
    assert.ok(!old.has(threads[2]!.threadId) && !old.has(threads[3]!.threadId));
    const whys = lines.filter((l) => l.includes('worker thread exited unexpectedly; starting a replacement'));
    assert.equal(whys.length, 2, lines.join(''));
    assert.ok(whys.some((l) => /worker=0/.test(l)) && whys.some((l) => /worker=1/.test(l)), whys.join(''));
    const why = whys[0];
    assert.match(why!, /code=1/);
    assert.match(why!, /ready=false/);
    assert.match(why!, /restart_in=500ms/);
    assert.ok(lines.some((l) => l.includes('replacement worker listening')), lines.join(''));
    assert.equal((await get(admin, '/ready')).status, 503, 'still waiting for its certificate');
    assert.equal((await get(admin, '/live')).status, 200);
  } finally {
    proxy.shutdown('test over');
    await proxy.done;
    ca.remove();
  }
});

test('after ready too; a worker that keeps dying is replaced with a growing delay; shutdown ends the loop', { timeout: 60_000 }, async () => {
  const { env, outbound, admin } = await proxyEnv(() => ({ LINNET_PROXY_WORKERS: '2' }));
  const lines: string[] = [];
  const threads: Worker[] = [];
  const proxy = await startProxy(loadProxyConfig(env), { log: createLogger('info', 'proxy', (l) => lines.push(l)), onWorker: (w) => threads.push(w) });
  try {
    assert.equal((await get(admin, '/ready')).status, 200);
    assert.equal(threads.length, 2);
    // Worker 1 dies three times in a row, each time right after its replacement is up.
    const delays: string[] = [];
    for (let k = 0; k < 3; k++) {
      const victim = threads.filter((_, i) => i !== 0).at(-1)!; // worker 0 is threads[0]; the rest are worker 1's generations
      await victim.terminate();
      // The other worker's listener keeps serving meanwhile.
      assert.equal(await probe(outbound), 'handled');
      await until(`replacement ${k + 1}`, () => threads.length, (n) => n === 3 + k);
      await until('replacement listening', () => lines.filter((l) => l.includes('replacement worker listening')).length, (n) => n === k + 1);
    }
    for (const l of lines.filter((x) => x.includes('starting a replacement'))) delays.push(/restart_in=(\d+ms)/.exec(l)![1]!);
    assert.deepEqual(delays, ['500ms', '1000ms', '2000ms']);
    assert.ok(lines.every((l) => !l.includes('starting a replacement') || l.includes('worker=1')), lines.join(''));
    assert.equal((await get(admin, '/ready')).status, 200);

    // A death during the pending backoff delay is not replaced once shutdown began.
    await threads.at(-1)!.terminate();
    proxy.shutdown('test over');
    await proxy.done;
    await new Promise((r) => setTimeout(r, 5000)); // longer than the 4000 ms the next replacement would wait
    assert.equal(threads.length, 5, 'no worker started after shutdown');
  } finally {
    proxy.shutdown('test over');
    await proxy.done;
  }
});

test('one worker runs in the main thread: no thread, the listeners serve, and `linnet proxy` exits 0 at once on SIGTERM', { timeout: 60_000 }, async () => {
  const { env, outbound, admin } = await proxyEnv(() => ({ LINNET_PROXY_WORKERS: '1' }));
  const threads: Worker[] = [];
  const proxy = await startProxy(loadProxyConfig(env), { log: createLogger('error', 'proxy', () => {}), onWorker: (w) => threads.push(w) });
  try {
    assert.equal((await get(admin, '/ready')).status, 200);
    assert.equal(await probe(outbound), 'handled');
    assert.equal(threads.length, 0, 'a one-worker proxy starts no worker thread');
    assert.match((await get(admin, '/metrics')).body, /^# TYPE tcp_open_total counter$/m, 'the lane answers /metrics in this thread');
  } finally {
    proxy.shutdown('test over');
    await proxy.done;
  }

  // The process: with nothing open, drain finishes synchronously and nothing may keep it alive
  // for the grace period.
  const child = spawn(process.execPath, [LINNET_BIN, 'proxy'], { env: { ...process.env, ...env, LINNET_PROXY_LOG: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await until('proxy ready', () => err, (e) => e.includes('proxy ready'));
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0, err);
  assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms (grace is 25 s)\n${err}`);
});
