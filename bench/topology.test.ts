import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appInboundIgnore, appPorts, haproxyConfig, loadOutboundIgnore, nginxConfig, peerHopPort, port, PROTOCOLS } from './topology';

test('every path has its own port; the baselines bypass the proxies, the linnet path only the load pod\'s', () => {
  const routes = ['direct', 'nginx', 'haproxy', 'linnet', 'policy', 'mesh', 'hamesh'] as const;
  const all = [...routes.flatMap((r) => PROTOCOLS.map((p) => port(r, p))), ...PROTOCOLS.map(peerHopPort)];
  assert.equal(new Set(all).size, all.length);
  const inIgnore = new Set(appInboundIgnore());
  const outIgnore = new Set(loadOutboundIgnore());
  for (const p of PROTOCOLS) {
    for (const r of ['direct', 'nginx', 'haproxy'] as const) assert.ok(inIgnore.has(port(r, p)) && outIgnore.has(port(r, p)));
    assert.ok(!inIgnore.has(port('linnet', p)) && outIgnore.has(port('linnet', p)), 'linnet path: inbound proxy only');
    assert.ok(!inIgnore.has(port('policy', p)) && outIgnore.has(port('policy', p)), 'policy path: inbound proxy only');
    assert.ok(!inIgnore.has(port('mesh', p)) && !outIgnore.has(port('mesh', p)), 'mesh path: both proxies');
    // The peer mesh: the load tool's port (the outbound haproxy) and the TLS hop (the inbound
    // haproxy) bypass Linnet where they are crossed: the load pod's outbound side, the app pod's inbound.
    assert.ok(outIgnore.has(port('hamesh', p)), 'peer mesh: its sidecar port is not Linnet\'s outbound');
    assert.ok(outIgnore.has(peerHopPort(p)) && inIgnore.has(peerHopPort(p)), 'peer mesh: its TLS hop bypasses both Linnet proxies');
    assert.equal(peerHopPort(p), 13100 + PROTOCOLS.indexOf(p));
    assert.deepEqual(appPorts(p), [port('direct', p), port('linnet', p), port('mesh', p), ...(p === 'http1' ? [port('policy', p)] : [])]);
  }
  // The peer mesh's ports are in a range of their own (130xx, 131xx), after every other route's.
  assert.ok(PROTOCOLS.every((p) => port('hamesh', p) >= 13000 && port('hamesh', p) < 13100 && peerHopPort(p) >= 13100 && peerHopPort(p) < 13200));
  // Linnet's own ports and the admin port are not in the plan.
  for (const p of [4140, 4143, 4191]) assert.ok(!all.includes(p));
});

test('nginx: one worker, keep-alive upstreams to the direct ports, stream block only with the module', () => {
  const c = nginxConfig({ dir: '/tmp/x' });
  assert.match(c, /^worker_processes 1;$/m);
  assert.match(c, new RegExp(`listen ${port('nginx', 'http1')} `));
  assert.match(c, new RegExp(`upstream http1_app \\{ server 127\\.0\\.0\\.1:${port('direct', 'http1')}; keepalive`));
  assert.match(c, /grpc_pass grpc:\/\/grpc_app/);
  assert.doesNotMatch(c, /stream \{/);
  const s = nginxConfig({ dir: '/tmp/x', streamModule: '/m/stream.so' });
  assert.match(s, /^load_module \/m\/stream\.so;$/m);
  assert.match(s, new RegExp(`listen ${port('nginx', 'redis')}; proxy_pass 127\\.0\\.0\\.1:${port('direct', 'redis')};`));
  // Balanced braces: nginx refuses the file otherwise.
  assert.equal((s.match(/\{/g) ?? []).length, (s.match(/\}/g) ?? []).length);
});

test('haproxy: one thread, h2 end to end for HTTP/2 and gRPC, tcp mode for iperf3 and redis', () => {
  const c = haproxyConfig({ dir: '/tmp/x' });
  assert.match(c, /^ {2}nbthread 1$/m);
  assert.match(c, new RegExp(`bind 0\\.0\\.0\\.0:${port('haproxy', 'grpc')} proto h2\\n {2}server app 127\\.0\\.0\\.1:${port('direct', 'grpc')} proto h2`));
  assert.match(c, new RegExp(`listen redis\\n {2}mode tcp\\n {2}bind 0\\.0\\.0\\.0:${port('haproxy', 'redis')}`));
});

test('mesh file: each protocol a service on the app pod\'s mesh port, with the app identity; both workloads and the tap reader certify', async () => {
  const { meshFile } = await import('./environment');
  const { parse } = await import('yaml');
  const doc = parse(meshFile('10.1.2.11')) as { services: { name: string; ports: number[]; endpoints: { address: string; identity: string }[] }[]; workloads: { identity: string; token: string }[] };
  assert.equal(doc.services.length, PROTOCOLS.length);
  const http1 = doc.services.find((s) => s.name === 'http1.bench.svc.cluster.local')!;
  assert.deepEqual(http1.ports, [port('mesh', 'http1')]);
  assert.deepEqual(http1.endpoints, [{ address: `10.1.2.11:${port('mesh', 'http1')}`, identity: 'app.bench.serviceaccount.identity.linnet.cluster.local' }]);
  assert.deepEqual(doc.workloads.map((w) => w.identity), [
    'load.bench.serviceaccount.identity.linnet.cluster.local',
    'app.bench.serviceaccount.identity.linnet.cluster.local',
    'tap.bench.serviceaccount.identity.linnet.cluster.local',
  ]);
});

test('room for idle connections: only when asked, nginx and haproxy admit them plus headroom; the usual configs stay as they were', () => {
  assert.match(nginxConfig({ dir: '/tmp/x' }), /^worker_rlimit_nofile 20000;\nevents \{ worker_connections 9000;/m);
  assert.match(haproxyConfig({ dir: '/tmp/x' }), /^global\n {2}nbthread 1\n {2}maxconn 9000\n/);
  assert.doesNotMatch(haproxyConfig({ dir: '/tmp/x' }), /^defaults\n[^l]*maxconn/m);
  const n = nginxConfig({ dir: '/tmp/x', maxConnections: 10_000 });
  assert.match(n, /^worker_rlimit_nofile 23072;\nevents \{ worker_connections 11024;/m);
  const h = haproxyConfig({ dir: '/tmp/x', maxConnections: 10_000 });
  assert.match(h, /^global\n {2}nbthread 1\n {2}maxconn 11024\n/);
  // The listeners' own cap too, or connections beyond it would wait in the backlog unanswered.
  assert.match(h, /^defaults\n {2}maxconn 11024\n/m);
});

test('room for idle connections under a hard open-file limit: nginx is given the limit, haproxy told to run within it', () => {
  assert.match(nginxConfig({ dir: '/tmp/x', maxConnections: 10_000, fdLimit: 20_000 }), /^worker_rlimit_nofile 20000;$/m);
  assert.match(haproxyConfig({ dir: '/tmp/x', maxConnections: 10_000, fdLimit: 20_000 }), /^ {2}maxconn 11024\n {2}no strict-limits\n/m);
  assert.doesNotMatch(haproxyConfig({ dir: '/tmp/x', maxConnections: 10_000, fdLimit: 1 << 20 }), /strict-limits/);
  assert.doesNotMatch(haproxyConfig({ dir: '/tmp/x', fdLimit: 20_000 }), /strict-limits/);
});
