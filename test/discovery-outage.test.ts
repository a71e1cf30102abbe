/**
 * The proxy's discovery client against a control plane that goes away and comes back on the
 * same port: the endpoint set keeps its last endpoints through the outage, the client
 * reconnects by itself (backoff + jitter), and the restarted server's state replaces the stale
 * one. Idle targets are closed.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileSource, type FileSource } from '../control/destination/file-source';
import { serveDestination } from '../control/destination/server';
import { createDiscoveryClient, type EndpointSet } from '../proxy/outbound/discovery';

const mesh = (eps: string[]) =>
  `services:\n  - name: api.demo.svc.cluster.local\n    ports: [80]\n    endpoints:\n${eps.map((e) => `      - address: ${e}\n`).join('')}`;

function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  return new Promise((ok, fail) => {
    const tick = () => {
      if (pred()) return ok();
      if (Date.now() - start > ms) return fail(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('discovery client through a control-plane outage', () => {
  let dir: string;
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps the last endpoints while the server is down and picks up the new state after restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'linnet-outage-'));
    const file = join(dir, 'mesh.yaml');
    await writeFile(file, mesh(['10.1.0.1:8080', '10.1.0.2:8080']));
    let source: FileSource = await createFileSource({ file });
    let server = await serveDestination({ source, addr: '127.0.0.1:0' });
    const port = server.port;
    const client = createDiscoveryClient({ addr: `127.0.0.1:${port}`, backoff: { baseMs: 50, maxMs: 400, jitter: 0.5 } });
    cleanups.push(() => client.close());

    const set: EndpointSet = client.resolve({ authority: 'api.demo.svc.cluster.local', port: 80 });
    assert.equal(await set.ready(2000), true);
    assert.equal(set.endpoints().length, 2);
    assert.equal(set.connected(), true);

    // Outage: the server goes away, streams are cut.
    await server.close(0);
    await source.close();
    await waitFor(() => !set.connected(), 2000, 'the client to notice the outage');
    // Some reconnect attempts fail meanwhile; the endpoints are still served.
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(set.endpoints().map((e) => e.address).sort(), ['10.1.0.1:8080', '10.1.0.2:8080']);
    assert.equal(set.exists(), true);

    // The control plane comes back on the same port with a different view.
    await writeFile(file, mesh(['10.1.0.3:8080']));
    source = await createFileSource({ file });
    server = await serveDestination({ source, addr: `127.0.0.1:${port}` });
    cleanups.push(() => server.close(), () => source.close());
    await waitFor(() => set.connected(), 8000, 'the client to reconnect');
    await waitFor(() => set.endpoints().map((e) => e.address).join() === '10.1.0.3:8080', 2000, 'the fresh state to replace the stale one');
    set.release();
  });

  it('closes a target nobody holds after the idle time, and reopens it on demand', async () => {
    const d = await mkdtemp(join(tmpdir(), 'linnet-idle-'));
    const file = join(d, 'mesh.yaml');
    await writeFile(file, mesh(['10.2.0.1:8080']));
    const source = await createFileSource({ file });
    const server = await serveDestination({ source, addr: '127.0.0.1:0' });
    const client = createDiscoveryClient({ addr: `127.0.0.1:${server.port}`, idleTimeoutMs: 100 });
    cleanups.push(() => client.close(), () => server.close(), () => source.close(), () => rm(d, { recursive: true, force: true }));
    const a = client.resolve({ authority: 'api.demo.svc.cluster.local', port: 80 });
    await a.ready(2000);
    assert.equal(client.size(), 1);
    a.release();
    await waitFor(() => client.size() === 0, 1000, 'the idle stream to close');
    const b = client.resolve({ authority: 'api.demo.svc.cluster.local', port: 80 });
    assert.equal(await b.ready(2000), true);
    assert.equal(b.endpoints()[0]!.address, '10.2.0.1:8080');
    b.release();
  });
});
