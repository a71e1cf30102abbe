/**
 * The outbound side's routing over real discovery on loopback: a mesh file, the Destination
 * server, the proxy's discovery client, and the per-destination balancers (proxy/outbound). Known
 * virtual IPs and endpoint addresses are balanced, unknown ones go to the original destination,
 * a service without endpoints says so, a mesh-file edit reaches the balancer, and with no control
 * plane the first lookup gives up after its timeout.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileSource, type FileSource } from '../control/destination/file-source';
import { serveDestination } from '../control/destination/server';
import { createDiscoveryClient } from '../proxy/outbound/discovery';
import { createLogger } from '../core/log';
import { OutboundBalancers } from '../proxy/outbound/balancers';

const ID = 'api.demo.serviceaccount.identity.linnet.cluster.local';
const mesh = (eps: string[]) =>
  [
    'services:',
    '  - name: api.demo.svc.cluster.local',
    '    address: 10.96.0.10',
    '    ports: [80]',
    '    endpoints:',
    ...eps.flatMap((e) => [`      - address: ${e}`, `        identity: ${ID}`]),
    '  - name: empty.demo.svc.cluster.local',
    '    address: 10.96.0.11',
    '    ports: [80]',
    '    endpoints: []',
    '',
  ].join('\n');

const log = createLogger('error', 'test', () => {});

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('outbound balancers over real discovery', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('balances known destinations, falls back for unknown ones, follows mesh-file edits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'linnet-meshdisc-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'mesh.yaml');
    await writeFile(file, mesh(['10.1.0.1:8080', '10.1.0.2:8080']));
    const source: FileSource = await createFileSource({ file, debounceMs: 20 });
    cleanups.push(() => source.close());
    const server = await serveDestination({ source, addr: '127.0.0.1:0' });
    cleanups.push(() => server.close(0));
    const discovery = createDiscoveryClient({ addr: `127.0.0.1:${server.port}` });
    const balancers = new OutboundBalancers(discovery, { readyTimeoutMs: 2000, log });
    cleanups.push(() => {
      balancers.close();
      discovery.close();
    });

    const vip = await balancers.route('10.96.0.10', 80);
    assert.equal(vip.kind, 'balanced');
    if (vip.kind !== 'balanced') return;
    const balancer = vip.balancer;
    assert.equal(balancer.size, 2);
    const picked = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = balancer.pick()!;
      assert.equal(p.endpoint.identity, ID);
      picked.add(p.key);
      p.done('success', 1);
    }
    assert.deepEqual([...picked].sort(), ['10.1.0.1:8080', '10.1.0.2:8080']);

    // An endpoint's own address resolves to that endpoint (still meshed).
    const one = await balancers.route('10.1.0.2', 8080);
    assert.equal(one.kind, 'balanced');
    if (one.kind === 'balanced') assert.equal(one.balancer.pick()!.endpoint.identity, ID);

    assert.equal((await balancers.route('192.0.2.7', 80)).kind, 'original');
    assert.equal((await balancers.route('10.96.0.10', 81)).kind, 'original', 'a port the service does not serve');
    assert.equal((await balancers.route('10.96.0.11', 80)).kind, 'no-endpoints');

    await writeFile(file, mesh(['10.1.0.1:8080', '10.1.0.2:8080', '10.1.0.3:8080']));
    await until(() => vip.balancer.size === 3, 3000, 'the edit to reach the balancer');
    // Same balancer object, endpoints updated in place: state of kept endpoints survives.
    const again = await balancers.route('10.96.0.10', 80);
    assert.ok(again.kind === 'balanced' && again.balancer === vip.balancer);
  });

  it('with no control plane, the first lookup gives up after its timeout and goes to the original destination', async () => {
    const discovery = createDiscoveryClient({ addr: '127.0.0.1:1', backoff: { baseMs: 50, maxMs: 200, jitter: 0 } });
    const balancers = new OutboundBalancers(discovery, { readyTimeoutMs: 300, log });
    cleanups.push(() => {
      balancers.close();
      discovery.close();
    });
    const t0 = Date.now();
    assert.equal((await balancers.route('10.96.0.10', 80)).kind, 'original');
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 2000, `took ${took} ms`);
  });
});
