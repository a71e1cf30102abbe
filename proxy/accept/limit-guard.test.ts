import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { Registry } from '../metrics/registry';
import { createLogger } from '../../core/log';
import { LimitMetrics } from '../metrics/limit-metrics';
import { LimitGuard } from './limit-guard';

/** A loopback listener guarded by a cap of `max`; admitted sockets are kept (and echo nothing). */
async function guarded(max: number, minSilentAgeMs: number) {
  const registry = new Registry();
  const lines: string[] = [];
  const guard = new LimitGuard({
    direction: 'inbound',
    max,
    minSilentAgeMs,
    metrics: new LimitMetrics(registry),
    log: createLogger('warn', 'test', (l) => lines.push(l)),
  });
  const admitted: Socket[] = [];
  const server = createServer({ pauseOnConnect: true }, (s) => {
    if (!guard.admit(s)) return;
    s.on('error', () => {});
    admitted.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const value = async (name: string) => registry.families().find((f) => f.name === name)!.samples.reduce((n, v) => n + v.value, 0);
  return { guard, server, port, admitted, lines, value };
}

/** Connects and resolves with how the connection ended: 'reset', 'closed' or 'open' after `ms`. */
function outcome(port: number, ms: number, write?: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => write && s.write(write));
    const t = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, ms);
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code === 'ECONNRESET' ? 'reset' : e.code!);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve('closed');
    });
  });
}

test('over the cap with nobody silent, a new connection is reset and counted; one warning', async () => {
  const g = await guarded(2, 0);
  try {
    // Two talking connections fill the cap.
    const talkers = [outcome(g.port, 1500, 'hello'), outcome(g.port, 1500, 'hello')];
    while (g.admitted.length < 2) await new Promise((r) => setTimeout(r, 10));
    for (const s of g.admitted) s.resume();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await outcome(g.port, 1000), 'reset');
    assert.equal(await outcome(g.port, 1000), 'reset');
    assert.equal(await g.value('tcp_connections_refused_total'), 2);
    assert.equal(await g.value('tcp_connections_evicted_total'), 0);
    assert.equal(g.lines.length, 1, g.lines.join(''));
    assert.match(g.lines[0]!, /connection limit reached.*direction=inbound max_connections=2 .*refused=1/);
    assert.deepEqual(await Promise.all(talkers), ['open', 'open']);
  } finally {
    g.server.close();
    for (const s of g.admitted) s.destroy();
  }
});

test('at the cap the oldest silent connection is closed to make room; the newcomer is served', async () => {
  const g = await guarded(2, 50);
  try {
    const first = outcome(g.port, 3000);
    while (g.admitted.length < 1) await new Promise((r) => setTimeout(r, 10));
    const second = outcome(g.port, 3000, 'x');
    while (g.admitted.length < 2) await new Promise((r) => setTimeout(r, 10));
    g.admitted[1]!.resume();
    await new Promise((r) => setTimeout(r, 200));
    const third = outcome(g.port, 500);
    assert.equal(await first, 'closed', 'the silent connection was evicted');
    assert.equal(g.admitted[0]!.errored && (g.admitted[0]!.errored as NodeJS.ErrnoException).code, 'ECONNABORTED');
    assert.equal(await third, 'open', 'the newcomer was admitted');
    assert.equal(await g.value('tcp_connections_evicted_total'), 1);
    assert.equal(await g.value('tcp_connections_refused_total'), 0);
    assert.ok(g.guard.size <= 2);
    void second;
  } finally {
    g.server.close();
    for (const s of g.admitted) s.destroy();
  }
});
