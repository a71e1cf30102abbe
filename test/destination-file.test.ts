/**
 * The file discovery source served over real gRPC on a loopback socket, read by the proxy's
 * discovery client: first answers, lookups by name, virtual IP and endpoint IP, edits reaching a
 * connected client within a second, bad edits keeping the last good state, and the profile stream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createFileSource, type FileSource } from '../control/destination/file-source';
import { serveDestination } from '../control/destination/server';
import { destinationClientConstructor, type PbDestinationProfile } from '../core/api/destination';
import { createDiscoveryClient, type DiscoveryClient, type EndpointSet } from '../proxy/outbound/discovery';
import { createLogger } from '../core/log';

const ID = 'web.demo.serviceaccount.identity.linnet.cluster.local';

function meshYaml(endpoints: string[], extra = ''): string {
  return `services:
  - name: web.demo.svc.cluster.local
    address: 10.96.0.10
    ports: [80, 6379]
    opaquePorts: [6379]
    labels: { service: web, namespace: demo }
    endpoints:
${endpoints.map((a, i) => `      - address: ${a}\n        identity: ${ID}\n        labels: { pod: web-${i} }`).join('\n')}
  - name: legacy.demo.svc.cluster.local
    ports: [8080]
    endpoints:
      - address: 10.77.0.50
${extra}
workloads:
  - identity: ${ID}
    token: "s3cret-token-web"
`;
}

/** Waits until `pred` holds on the set, or fails after `ms`. Returns the elapsed time. */
function until(set: EndpointSet, pred: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  return new Promise((ok, fail) => {
    if (pred()) return ok(0);
    const timer = setTimeout(() => {
      set.off('update', check);
      fail(new Error(`condition not met within ${ms} ms; endpoints now ${JSON.stringify(set.endpoints().map((e) => e.address))}`));
    }, ms);
    function check() {
      if (pred()) {
        clearTimeout(timer);
        set.off('update', check);
        ok(Date.now() - start);
      }
    }
    set.on('update', check);
  });
}

const addrs = (s: EndpointSet) => s.endpoints().map((e) => e.address).sort();

describe('file source over gRPC', () => {
  let dir: string;
  let file: string;
  let source: FileSource;
  let server: Awaited<ReturnType<typeof serveDestination>>;
  let client: DiscoveryClient;
  const logLines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'linnet-dst-'));
    file = join(dir, 'mesh.yaml');
    await writeFile(file, meshYaml(['10.77.0.12:8080', '10.77.0.13:8080']));
    source = await createFileSource({ file, log: createLogger('debug', 'test', (l) => void logLines.push(l)) });
    server = await serveDestination({ source, addr: '127.0.0.1:0' });
    client = createDiscoveryClient({ addr: `127.0.0.1:${server.port}` });
  });

  after(async () => {
    client?.close();
    await server?.close();
    await source?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves an authority to its endpoints with identity, labels and hints', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    assert.equal(await set.ready(2000), true);
    assert.equal(set.exists(), true);
    assert.deepEqual(addrs(set), ['10.77.0.12:8080', '10.77.0.13:8080']);
    const e = set.endpoints().find((x) => x.address === '10.77.0.12:8080')!;
    assert.equal(e.identity, ID);
    assert.equal(e.hint, 'h2');
    assert.equal(e.weight, 10000);
    // serviceaccount comes from the endpoint's identity (it becomes dst_serviceaccount).
    assert.deepEqual(e.labels, { service: 'web', namespace: 'demo', pod: 'web-0', serviceaccount: 'web' });
    set.release();
  });

  it('marks an opaque port: opaque hint and opaque transport to the peer proxy', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 6379 });
    assert.equal(await set.ready(2000), true);
    const e = set.endpoints()[0]!;
    assert.equal(e.hint, 'opaque');
    assert.equal(e.opaqueTransportPort, 4143);
    set.release();
  });

  it('resolves a virtual IP to the whole service and an endpoint IP to that one endpoint', async () => {
    const vip = client.resolve({ ip: '10.96.0.10', port: 80 });
    const one = client.resolve({ ip: '10.77.0.13', port: 8080 });
    const unmeshed = client.resolve({ ip: '10.77.0.50', port: 8080 });
    await Promise.all([vip.ready(2000), one.ready(2000), unmeshed.ready(2000)]);
    assert.deepEqual(addrs(vip), ['10.77.0.12:8080', '10.77.0.13:8080']);
    assert.deepEqual(addrs(one), ['10.77.0.13:8080']);
    assert.equal(one.endpoints()[0]!.identity, ID);
    // A bare endpoint address takes the service port; no identity means unmeshed, no hint.
    assert.deepEqual(addrs(unmeshed), ['10.77.0.50:8080']);
    assert.equal(unmeshed.endpoints()[0]!.identity, undefined);
    assert.equal(unmeshed.endpoints()[0]!.hint, undefined);
    for (const s of [vip, one, unmeshed]) s.release();
  });

  it('answers exists=false for unknown names, addresses and ports', async () => {
    const sets = [
      client.resolve({ authority: 'nope.demo.svc.cluster.local', port: 80 }),
      client.resolve({ ip: '192.0.2.1', port: 80 }),
      client.resolve({ authority: 'web.demo.svc.cluster.local', port: 9999 }),
    ];
    for (const s of sets) {
      assert.equal(await s.ready(2000), true);
      assert.equal(s.exists(), false);
      assert.deepEqual(s.endpoints(), []);
      s.release();
    }
  });

  it('shares one stream between callers of the same target', () => {
    const before = client.size();
    const a = client.resolve({ authority: 'legacy.demo.svc.cluster.local', port: 8080 });
    const b = client.resolve({ authority: 'LEGACY.demo.svc.cluster.local.', port: 8080 });
    assert.equal(client.size(), before + 1);
    a.release();
    b.release();
  });

  it('an edit of the file reaches a connected client within a second (add and remove)', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    // Replace the file the way editors and ConfigMaps do: write aside, rename over.
    const tmp = join(dir, '.mesh.yaml.tmp');
    await writeFile(tmp, meshYaml(['10.77.0.12:8080', '10.77.0.13:8080', '10.77.0.14:8080']));
    await rename(tmp, file);
    const tAdd = await until(set, () => addrs(set).includes('10.77.0.14:8080'), 1000);
    // In-place write this time.
    await writeFile(file, meshYaml(['10.77.0.14:8080']));
    const tRemove = await until(set, () => addrs(set).join() === '10.77.0.14:8080', 1000);
    assert.ok(tAdd < 1000 && tRemove < 1000);
    set.release();
  });

  it('a bad edit keeps the last good state and logs why', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    const before = addrs(set);
    let updates = 0;
    set.on('update', () => updates++);
    await writeFile(file, meshYaml(['10.77.0.99:notaport']));
    const ok = await source.reload();
    assert.equal(ok, false);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(updates, 0);
    assert.deepEqual(addrs(set), before);
    assert.ok(
      logLines.some((l) => l.includes('mesh file rejected') && l.includes('services[0].endpoints[0].address')),
      `log should name the bad path; got:\n${logLines.join('')}`,
    );
    // And a later good edit still applies.
    await writeFile(file, meshYaml(['10.77.0.15:8080']));
    await until(set, () => addrs(set).join() === '10.77.0.15:8080', 1000);
    set.release();
  });

  it('deleting the service empties the set with exists=false', async () => {
    const set = client.resolve({ authority: 'legacy.demo.svc.cluster.local', port: 8080 });
    await set.ready(2000);
    assert.equal(set.endpoints().length, 1);
    await writeFile(file, meshYaml(['10.77.0.15:8080']).replace(/  - name: legacy[\s\S]*?(?=\nworkloads:)/, ''));
    await until(set, () => set.exists() === false && set.endpoints().length === 0, 1000);
    set.release();
  });

  it('GetProfile streams the opaque flag and the single endpoint of an IP target', async () => {
    const Client = destinationClientConstructor();
    const raw = new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
    try {
      const first = (path: string) =>
        new Promise<PbDestinationProfile>((ok, fail) => {
          const call = raw['GetProfile']({ scheme: 'k8s', path, context_token: 't' });
          call.on('data', (p: PbDestinationProfile) => {
            ok(p);
            call.cancel();
          });
          call.on('error', (e: grpc.ServiceError) => {
            if (e.code !== grpc.status.CANCELLED) fail(e);
          });
        });
      const opaque = await first('web.demo.svc.cluster.local:6379');
      assert.equal(opaque.opaque_protocol, true);
      assert.equal(opaque.fully_qualified_name, 'web.demo.svc.cluster.local');
      const ip = await first('10.77.0.15:8080');
      assert.equal(ip.endpoint?.addr.ip, '10.77.0.15');
      assert.equal(ip.endpoint?.tls_identity?.dns_like_identity?.name, ID);
      // A malformed path is refused with INVALID_ARGUMENT, not hung.
      await assert.rejects(first('bad path!:x'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    } finally {
      raw.close();
    }
  });
});
