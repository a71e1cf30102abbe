/**
 * The Kubernetes discovery source against a real HTTPS API server that speaks the real list and
 * watch JSON (test/fake-kube-api.ts), served over real gRPC and read by the proxy's discovery
 * client: Services/EndpointSlices/Pods become endpoints with identities and opaque hints; watch
 * events (ADDED, MODIFIED, DELETED, BOOKMARK) become add/remove updates; a 410 Gone (as an ERROR
 * event and as an HTTP status) makes the source relist and catch up on what it missed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubernetesSource, type KubernetesSource } from '../control/destination/kubernetes-source';
import { serveDestination } from '../control/destination/server';
import { createDiscoveryClient, type DiscoveryClient, type EndpointSet } from '../proxy/outbound/discovery';
import { startFakeKubeApi, type FakeKubeApi } from './fake-kube-api';

const NS = 'demo';
const ID = (sa: string) => `${sa}.${NS}.serviceaccount.identity.linnet.cluster.local`;

const service = (name: string, clusterIP: string, ports: { name: string; port: number }[], annotations?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: NS, uid: `svc-${name}`, ...(annotations ? { annotations } : {}) },
  spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: ports.map((p) => ({ ...p, protocol: 'TCP', targetPort: p.port + 8000 })) },
});
const slice = (svc: string, ports: { name: string; port: number }[], eps: { ip: string; pod: string; ready?: boolean }[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${svc}-abc`, namespace: NS, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    conditions: { ready: e.ready ?? true },
    targetRef: { kind: 'Pod', namespace: NS, name: e.pod },
  })),
});
const pod = (name: string, ip: string, sa: string, meshed: boolean, annotations?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
  spec: {
    serviceAccountName: sa,
    containers: [{ name: 'app', image: 'app' }, ...(meshed ? [{ name: 'linnet-proxy', image: 'linnet' }] : [])],
  },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

function waitFor(pred: () => boolean, ms: number, what: () => string): Promise<void> {
  const start = Date.now();
  return new Promise((ok, fail) => {
    const tick = () => {
      if (pred()) return ok();
      if (Date.now() - start > ms) return fail(new Error(`timed out after ${ms} ms: ${what()}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}
const addrs = (s: EndpointSet) => s.endpoints().map((e) => e.address).sort().join(',');

describe('kubernetes source against a real-shape HTTPS API server', () => {
  let api: FakeKubeApi;
  let dir: string;
  let source: KubernetesSource;
  let server: Awaited<ReturnType<typeof serveDestination>>;
  let client: DiscoveryClient;
  const PORTS = [{ name: 'http', port: 80 }, { name: 'redis', port: 6379 }];
  const SLICE_PORTS = [{ name: 'http', port: 8080 }, { name: 'redis', port: 6379 }];

  before(async () => {
    api = await startFakeKubeApi();
    dir = await mkdtemp(join(tmpdir(), 'linnet-k8s-'));
    api.apply('services', service('web', '10.96.0.10', PORTS, { 'config.linnet.io/opaque-ports': '6379' }));
    api.apply('pods', pod('web-0', '10.244.0.5', 'web', true));
    api.apply('pods', pod('web-1', '10.244.0.6', 'web', false));
    api.apply('pods', pod('lonely', '10.244.0.9', 'batch', true, { 'config.linkerd.io/opaque-ports': '5432' }));
    api.apply('endpointslices', slice('web', SLICE_PORTS, [{ ip: '10.244.0.5', pod: 'web-0' }, { ip: '10.244.0.6', pod: 'web-1' }]));
    source = await createKubernetesSource({ kubeconfig: api.writeKubeconfig(dir), syncTimeoutMs: 5000, retryBaseMs: 100 });
    server = await serveDestination({ source, addr: '127.0.0.1:0' });
    client = createDiscoveryClient({ addr: `127.0.0.1:${server.port}` });
  });

  after(async () => {
    client?.close();
    await server?.close();
    await source?.close();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists with the bearer token and turns the objects into endpoints', async () => {
    for (const k of ['services', 'endpointslices', 'pods'] as const) {
      assert.equal(api.requests[k].unauthorized, 0);
      assert.ok(api.requests[k].list >= 1, `${k} listed`);
    }
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    assert.equal(await set.ready(2000), true);
    assert.equal(addrs(set), '10.244.0.5:8080,10.244.0.6:8080');
    const meshed = set.endpoints().find((e) => e.ip === '10.244.0.5')!;
    const plain = set.endpoints().find((e) => e.ip === '10.244.0.6')!;
    assert.equal(meshed.identity, ID('web'));
    assert.equal(meshed.hint, 'h2');
    assert.deepEqual(meshed.labels, { namespace: 'demo', service: 'web', pod: 'web-0', serviceaccount: 'web' });
    assert.equal(plain.identity, undefined);
    set.release();
  });

  it('maps service ports to slice ports by name and honours the opaque-ports annotation', async () => {
    const set = client.resolve({ ip: '10.96.0.10', port: 6379 });
    await set.ready(2000);
    assert.equal(addrs(set), '10.244.0.5:6379,10.244.0.6:6379');
    const meshed = set.endpoints().find((e) => e.ip === '10.244.0.5')!;
    assert.equal(meshed.hint, 'opaque');
    assert.equal(meshed.opaqueTransportPort, 4143);
    set.release();
  });

  it('resolves a pod IP outside any service (Linkerd annotation alias for opaque ports)', async () => {
    const set = client.resolve({ ip: '10.244.0.9', port: 5432 });
    await set.ready(2000);
    assert.equal(addrs(set), '10.244.0.9:5432');
    assert.equal(set.endpoints()[0]!.identity, ID('batch'));
    assert.equal(set.endpoints()[0]!.hint, 'opaque');
    set.release();
  });

  it('follows watch events: MODIFIED adds, not-ready and DELETED remove, BOOKMARK changes nothing', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    let updates = 0;
    set.on('update', () => updates++);

    api.apply('pods', pod('web-2', '10.244.0.7', 'web', true));
    api.apply('endpointslices', slice('web', SLICE_PORTS, [
      { ip: '10.244.0.5', pod: 'web-0' }, { ip: '10.244.0.6', pod: 'web-1' }, { ip: '10.244.0.7', pod: 'web-2' },
    ]));
    await waitFor(() => addrs(set) === '10.244.0.5:8080,10.244.0.6:8080,10.244.0.7:8080', 1000, () => addrs(set));
    assert.equal(set.endpoints().find((e) => e.ip === '10.244.0.7')!.identity, ID('web'));

    const before = updates;
    api.bookmark('endpointslices');
    api.bookmark('services');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(updates, before, 'a bookmark is not a change');

    api.apply('endpointslices', slice('web', SLICE_PORTS, [
      { ip: '10.244.0.5', pod: 'web-0', ready: false }, { ip: '10.244.0.6', pod: 'web-1' }, { ip: '10.244.0.7', pod: 'web-2' },
    ]));
    await waitFor(() => addrs(set) === '10.244.0.6:8080,10.244.0.7:8080', 1000, () => addrs(set));

    api.remove('endpointslices', NS, 'web-abc');
    await waitFor(() => set.endpoints().length === 0 && set.exists() === true, 1000, () => addrs(set));

    api.apply('endpointslices', slice('web', SLICE_PORTS, [{ ip: '10.244.0.5', pod: 'web-0' }]));
    await waitFor(() => addrs(set) === '10.244.0.5:8080', 1000, () => addrs(set));
    set.release();
  });

  it('relists after 410 Gone (ERROR event) and catches up on changes it never saw as events', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    const lists = api.requests.endpointslices.list;
    api.applySilently('endpointslices', slice('web', SLICE_PORTS, [{ ip: '10.244.0.6', pod: 'web-1' }]));
    api.compact();
    api.dropWatches();
    await waitFor(() => addrs(set) === '10.244.0.6:8080', 3000, () => `endpoints ${addrs(set)}, lists ${api.requests.endpointslices.list}`);
    assert.ok(api.requests.endpointslices.list > lists, 'the source relisted');
    set.release();
  });

  it('relists after an HTTP 410 on the watch request', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    const lists = api.requests.endpointslices.list;
    api.applySilently('endpointslices', slice('web', SLICE_PORTS, [{ ip: '10.244.0.7', pod: 'web-2' }]));
    api.goneByStatusOnce('endpointslices');
    api.dropWatches();
    await waitFor(() => addrs(set) === '10.244.0.7:8080', 3000, () => `endpoints ${addrs(set)}, lists ${api.requests.endpointslices.list}`);
    assert.ok(api.requests.endpointslices.list > lists, 'the source relisted');
    set.release();
  });

  it('keeps serving the last state while the API server is down, and catches up when it returns', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    const before = addrs(set);
    assert.ok(before.length > 0);
    await api.stop();
    // Recorded while down; the watch that resumes from the last seen resourceVersion replays it.
    api.apply('endpointslices', slice('web', SLICE_PORTS, [{ ip: '10.244.0.5', pod: 'web-0' }, { ip: '10.244.0.8', pod: 'web-3' }]));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(addrs(set), before, 'an API outage is not an empty mesh');
    await api.start();
    await waitFor(() => addrs(set) === '10.244.0.5:8080,10.244.0.8:8080', 5000, () => addrs(set));
    set.release();
  });

  it('a deleted Service answers exists=false', async () => {
    const set = client.resolve({ authority: 'web.demo.svc.cluster.local', port: 80 });
    await set.ready(2000);
    api.remove('services', NS, 'web');
    await waitFor(() => set.exists() === false && set.endpoints().length === 0, 1000, () => `exists ${set.exists()}`);
    set.release();
  });

  it('bad credentials: start-up fails with a clear error after retrying, instead of serving nothing', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'linnet-k8s-bad-'));
    try {
      const cfg = api.writeKubeconfig(bad);
      const { readFile, writeFile } = await import('node:fs/promises');
      await writeFile(cfg, (await readFile(cfg, 'utf8')).replace(api.token, 'wrong-token'));
      const lines: string[] = [];
      const { createLogger } = await import('../core/log');
      const before = api.requests.services.unauthorized;
      await assert.rejects(
        createKubernetesSource({ kubeconfig: cfg, syncTimeoutMs: 700, retryBaseMs: 100, log: createLogger('warn', 'k8s', (l) => void lines.push(l)) }),
        (e: unknown) => (e as { code?: string }).code === 'LINNET_KUBERNETES_SYNC_TIMEOUT',
      );
      assert.ok(api.requests.services.unauthorized - before >= 2, 'it retried');
      assert.ok(lines.some((l) => l.includes('list/watch failed') && l.includes('Unauthorized')), lines.join(''));
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
