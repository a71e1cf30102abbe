import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePromText } from '../../core/prom-text';
import { parseMeshFile } from '../destination/mesh-file';
import { edgeRows } from './edges';
import { History } from './history';
import { buildInventory, type ProxyTarget } from './inventory';
import { exactQuantile, histogramQuantile } from './quantile';
import { renderEdges, renderStat } from './render';
import { latencyBuckets, proxySnapshot } from './snapshot';
import { routeRows } from './routes';
import { parseRef, statRows, type TargetWindow } from './stat';
import { peerIp } from '../identity/service';
import { ownerLabels } from '../destination/kubernetes-model';

const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';
const CLIENT = 'traffic.demo.serviceaccount.identity.linnet.cluster.local';

/** A server's /metrics: `ok` successes and `bad` failures inbound, latency all in one bucket. */
function serverText(ok: number, bad: number, le = '10', startedAt = 1000): string {
  const L = 'authority="web.demo.svc.cluster.local:8080",target_addr="10.0.0.11:8080",tls="true",client_id="' + CLIENT + '"';
  const n = ok + bad;
  return [
    `process_start_time_seconds ${startedAt}`,
    `response_total{direction="inbound",${L},status_code="200",classification="success"} ${ok}`,
    `response_total{direction="inbound",${L},status_code="500",classification="failure"} ${bad}`,
    ...['1', '5', '10', '50', '+Inf'].map((b) => `response_latency_ms_bucket{direction="inbound",${L},le="${b}"} ${Number(b) < Number(le) ? 0 : n}`),
    `tcp_open_connections{direction="inbound",peer="src",target_addr="10.0.0.11:8080",tls="true",client_id="${CLIENT}"} 3`,
    `tcp_open_total{direction="inbound",peer="src",target_addr="10.0.0.11:8080",tls="true",client_id="${CLIENT}"} 4`,
  ].join('\n');
}

/** A client's /metrics: outbound connections to 10.0.0.11 (mTLS to `serverId`) and 10.0.0.12. */
function clientText(serverId: string, plainTo12 = 0): string {
  return [
    `process_start_time_seconds 1000`,
    `tcp_open_total{direction="outbound",peer="dst",target_addr="10.0.0.11:8080",tls="true",server_id="${serverId}"} 4`,
    ...(plainTo12 ? [`tcp_open_total{direction="outbound",peer="dst",target_addr="10.0.0.12:8080",tls="no_identity",no_tls_reason="not_provided_by_service_discovery"} ${plainTo12}`] : []),
    `response_total{direction="outbound",authority="web:8080",target_addr="10.0.0.11:8080",tls="true",server_id="${serverId}",status_code="200",classification="success",dst_pod="web-0"} 7`,
  ].join('\n');
}

const snap = (text: string, at: number) => proxySnapshot(parsePromText(text).samples, at);

const MESH = parseMeshFile(`services:
  - name: web.demo.svc.cluster.local
    endpoints:
      - { address: 10.0.0.11:8080, identity: ${WEB}, labels: { pod: web-0 } }
      - { address: 10.0.0.12:8080, identity: ${WEB}, labels: { pod: web-1 } }
workloads:
  - { identity: ${WEB}, token: web-token-1, name: webapp }
  - { identity: ${CLIENT}, token: traffic-token }
`);

test('inventory: mesh-file endpoints named by pod label and the workload name; certified proxies by IP and SA', () => {
  const inv = buildInventory(MESH, [{ identity: CLIENT, address: '10.0.0.20', certifiedAt: 1 }, { identity: WEB, certifiedAt: 2 }]);
  assert.deepEqual(
    inv.map((t) => [t.workload, t.pod, t.admin, t.namespace]),
    [
      ['traffic', '10.0.0.20', '10.0.0.20:4191', 'demo'],
      ['webapp', 'web-0', '10.0.0.11:4191', 'demo'],
      ['webapp', 'web-1', '10.0.0.12:4191', 'demo'],
    ],
  );
});

test('mesh file: a workload name must be a DNS label', () => {
  assert.throws(() => parseMeshFile(`workloads:\n  - { identity: ${WEB}, token: web-token-1, name: "Web App" }\n`), /workloads\[0\]\.name: expected a DNS label/);
});

test('peerIp reads grpc-js peer strings', () => {
  assert.equal(peerIp('10.1.2.3:4567'), '10.1.2.3');
  assert.equal(peerIp('ipv4:10.1.2.3:4567'), '10.1.2.3');
  assert.equal(peerIp('[fd00::1]:80'), 'fd00::1');
  assert.equal(peerIp('unix:/x'), undefined);
});

function windowsOf(targets: ProxyTarget[], pairs: Record<string, [string | undefined, string]>, up: Record<string, boolean> = {}): TargetWindow[] {
  return targets.map((target) => {
    const p = pairs[target.ip];
    return {
      target,
      up: up[target.ip] ?? p !== undefined,
      ...(p ? { cur: snap(p[1], 20_000), ...(p[0] ? { base: snap(p[0], 10_000) } : {}) } : {}),
      ...(p ? {} : { error: `${target.admin}: ECONNREFUSED` }),
    };
  });
}

test('stat deploy: exact counts, success rate and RPS over the window, a proxy down shown as such', () => {
  const inv = buildInventory(MESH, [{ identity: CLIENT, address: '10.0.0.20', certifiedAt: 1 }]);
  const w = windowsOf(inv, { '10.0.0.11': [serverText(10, 0), serverText(100, 10)] });
  const rows = statRows({ kind: 'deploy' }, w);
  const web = rows.find((r) => r.name === 'webapp')!;
  assert.equal(web.requests, 100);
  assert.equal(web.success, 90);
  assert.equal(web.successRate, 0.9);
  assert.equal(web.rps, 10);
  assert.equal(web.meshed, 1);
  assert.equal(web.pods, 2);
  assert.equal(web.tcpConn, 3);
  assert.deepEqual(web.down, ['web-1: 10.0.0.12:4191: ECONNREFUSED']);
  assert.ok(web.p50! > 5 && web.p50! <= 10, `p50 ${web.p50} inside the 5-10 ms bucket`);
  const out = renderStat(rows, 'table', 'deploy');
  assert.match(out, /^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN$/m);
  assert.match(out, /^webapp\s+1\/2\s+90\.00%\s+10\.0rps\s+\d+(\.\d+)?ms/m);
  assert.match(out, /^traffic\s+0\/1\s+-\s+-/m);
});

test('stat: a proxy that started inside the window counts from zero; a restart (counter down) counts from zero', () => {
  const inv = buildInventory(MESH, []).slice(0, 1);
  const h = new History(300_000);
  h.add(inv[0]!.admin, snap(serverText(5, 0, '10', 100), 100_500));
  h.add(inv[0]!.admin, snap(serverText(8, 0, '10', 100), 102_000));
  // window reaches back past the start (100 s): all 8 counted
  const all = h.window(inv[0]!.admin, 60_000, 102_000);
  assert.equal(all.base, undefined);
  assert.equal(statRows({ kind: 'pod' }, [{ target: inv[0]!, up: true, ...all }])[0]!.requests, 8);
  // a window inside: from the oldest snapshot in it
  const short = h.window(inv[0]!.admin, 1_600, 102_000);
  assert.equal(statRows({ kind: 'pod' }, [{ target: inv[0]!, up: true, ...short }])[0]!.requests, 3);
  const restarted = statRows({ kind: 'pod' }, [{ target: inv[0]!, up: true, cur: snap(serverText(2, 0), 2), base: snap(serverText(50, 0), 1) }]);
  assert.equal(restarted[0]!.requests, 2);
});

test('stat authority and routes: one [default] route per authority', () => {
  const inv = buildInventory(MESH, []);
  const w = windowsOf(inv, { '10.0.0.11': [undefined, serverText(3, 1)], '10.0.0.12': [undefined, serverText(6, 0)] });
  const au = statRows({ kind: 'authority' }, w);
  assert.deepEqual(au.map((r) => [r.name, r.requests, r.success]), [['web.demo.svc.cluster.local:8080', 10, 9]]);
  assert.match(renderStat(au, 'table', 'authority'), /^NAME\s+SUCCESS/m);
  const routes = routeRows({ ref: parseRef('deploy/webapp') }, w);
  assert.deepEqual(routes.map((r) => [r.route, r.authority, r.requests]), [['[default]', 'web.demo.svc.cluster.local:8080', 10]]);
});

test('stat --from/--to read the source side', () => {
  const inv = buildInventory(MESH, [{ identity: CLIENT, address: '10.0.0.20', certifiedAt: 1 }]);
  const w = windowsOf(inv, { '10.0.0.20': [undefined, clientText(WEB)], '10.0.0.11': [undefined, serverText(100, 0)] });
  const to = statRows({ kind: 'deploy', to: parseRef('deploy/webapp') }, w);
  assert.equal(to.find((r) => r.name === 'traffic')!.requests, 7);
  const from = statRows({ kind: 'deploy', from: parseRef('deploy/traffic') }, w);
  assert.deepEqual(from.map((r) => [r.name, r.requests]), [['webapp', 7]]);
});

test('edges: √ for mTLS to the expected identity; × for plaintext or another identity', () => {
  const inv = buildInventory(MESH, [{ identity: CLIENT, address: '10.0.0.20', certifiedAt: 1 }]);
  const good = edgeRows('deploy', windowsOf(inv, { '10.0.0.20': [undefined, clientText(WEB)] }));
  assert.deepEqual(good.map((e) => [e.src, e.dst, e.srcNs, e.dstNs, e.secured]), [['traffic', 'webapp', 'demo', 'demo', true]]);
  assert.match(renderEdges(good, 'table'), /^traffic\s+webapp\s+demo\s+demo\s+√$/m);
  const wrong = edgeRows('deploy', windowsOf(inv, { '10.0.0.20': [undefined, clientText('evil.demo.serviceaccount.identity.linnet.cluster.local')] }));
  assert.equal(wrong[0]!.secured, false);
  assert.match(wrong[0]!.msg, /server identity evil/);
  const plain = edgeRows('pod', windowsOf(inv, { '10.0.0.20': [undefined, clientText(WEB, 2)] }));
  assert.deepEqual(plain.map((e) => [e.dst, e.secured]), [['web-0', true], ['web-1', false]]);
  // Seen only from the server side (the client's proxy not scraped): client_id names the source.
  const inbound = edgeRows('deploy', windowsOf(inv, { '10.0.0.11': [undefined, serverText(1, 0)] }));
  assert.deepEqual(inbound.map((e) => [e.src, e.dst, e.secured]), [['traffic', 'webapp', true]]);
});

test('exact latency from /latency buckets when the proxy gives them', () => {
  const inv = buildInventory(MESH, []).slice(0, 1);
  const withHdr = (text: string, at: number, values: number[]) => {
    const s = snap(text, at);
    const counts: number[] = [];
    for (const v of values) counts.push(v, 1);
    s.hdr = latencyBuckets({ 'inbound web.demo.svc.cluster.local:8080': { buckets: counts, max: Math.max(...values) } })!;
    return s;
  };
  const base = withHdr(serverText(2, 0), 1000, [500, 600]);
  const cur = withHdr(serverText(6, 0), 2000, [500, 600, 1000, 2000, 3000, 4000]);
  const [row] = statRows({ kind: 'pod' }, [{ target: inv[0]!, up: true, cur, base }]);
  assert.equal(row!.latency, 'hdr');
  assert.equal(row!.p50, 2); // window values 1,2,3,4 ms: the 50th percentile is 2 ms exactly
  assert.equal(row!.p99, 4);
  assert.equal(latencyBuckets({ 'inbound x': { p50: 1 } }), undefined);
});

test('quantiles: exact matches a sorted array; bucket interpolation stays inside the bucket', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (values, q) => {
      const m = new Map<number, number>();
      for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
      const sorted = [...values].sort((a, b) => a - b);
      assert.equal(exactQuantile(q, m), sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]);
    }),
  );
  assert.equal(histogramQuantile(0.5, new Map([[10, 0], [20, 10], [Infinity, 10]])), 15);
  assert.equal(histogramQuantile(0.5, new Map()), undefined);
});

test('parseRef', () => {
  assert.deepEqual(parseRef('deployment/web'), { kind: 'deploy', name: 'web' });
  assert.throws(() => parseRef('svc/web'), /expected deploy\/NAME or pod\/NAME/);
});

test('Kubernetes: pods are named by their owner, from the labels discovery gives endpoints', () => {
  const pod = (kind: string, name: string, hash?: string) => ({ metadata: { name: 'p', ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }], ...(hash ? { labels: { 'pod-template-hash': hash } } : {}) } });
  assert.equal(ownerLabels(pod('ReplicaSet', 'web-7d9c6b5f4', '7d9c6b5f4'))['deployment'], 'web');
  assert.deepEqual(ownerLabels(pod('StatefulSet', 'db')), { statefulset: 'db' });
  const state = {
    services: [
      {
        name: 'web.demo.svc.cluster.local',
        addresses: [],
        ports: [80],
        opaquePorts: new Set<number>(),
        labels: {},
        endpoints: [{ ip: '10.1.0.5', identity: WEB, labels: { pod: 'web-7d9c6b5f4-abcde', serviceaccount: 'web', deployment: 'webapp-deploy' }, weight: 1 }],
      },
    ],
    workloads: [],
  };
  const [t] = buildInventory(state, []);
  assert.deepEqual([t!.workload, t!.pod, t!.namespace], ['webapp-deploy', 'web-7d9c6b5f4-abcde', 'demo']);
});

test('property: a workload row is the sum of its pod rows; success rate and RPS follow from the counts', () => {
  const WL = ['a', 'b', 'c'];
  fc.assert(
    fc.property(
      fc.array(fc.record({ wl: fc.constantFrom(...WL), okBase: fc.nat(1000), ok: fc.nat(1000), badBase: fc.nat(100), bad: fc.nat(100), up: fc.boolean() }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 120 }),
      (pods, secs) => {
        const windows: TargetWindow[] = pods.map((p, i) => {
          const ip = `10.0.0.${i + 1}`;
          const target: ProxyTarget = { ip, admin: `${ip}:4191`, workload: p.wl, namespace: 'demo', pod: `${p.wl}-${i}` };
          const text = (ok: number, bad: number) =>
            [`response_total{direction="inbound",authority="x",classification="success"} ${ok}`, `response_total{direction="inbound",authority="x",classification="failure"} ${bad}`].join('\n');
          return {
            target,
            up: p.up,
            base: snap(text(p.okBase, p.badBase), 0),
            cur: snap(text(p.okBase + p.ok, p.badBase + p.bad), secs * 1000),
          };
        });
        const deploy = statRows({ kind: 'deploy' }, windows);
        const pod = statRows({ kind: 'pod' }, windows);
        for (const d of deploy) {
          const mine = pod.filter((r) => windows.find((w) => w.target.pod === r.name)!.target.workload === d.name);
          assert.equal(d.requests, mine.reduce((n, r) => n + r.requests, 0));
          assert.equal(d.success, mine.reduce((n, r) => n + r.success, 0));
          assert.equal(d.pods, mine.length);
          assert.equal(d.meshed, mine.filter((r) => r.meshed === 1).length);
          if (d.requests > 0) {
            assert.equal(d.successRate, d.success / d.requests);
            assert.ok(Math.abs(d.rps! - d.requests / secs) < 1e-9);
          } else assert.equal(d.successRate, undefined);
        }
        assert.equal(pod.reduce((n, r) => n + r.requests, 0), pods.reduce((n, p) => n + p.ok + p.bad, 0));
      },
    ),
  );
});
