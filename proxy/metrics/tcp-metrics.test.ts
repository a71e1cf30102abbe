import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { srvLabelsOf, MAX_SRV_SETS, MAX_SRV_VALUE_LENGTH } from './labels';
import { Registry } from './registry';
import { TcpMetrics, type TcpLabels } from './tcp-metrics';

const inbound = (port: number): TcpLabels => ({ direction: 'inbound', peer: 'src', target_addr: `10.0.0.1:${port}`, tls: 'true', client_id: 'client.id' });

test('a labelled view records into the same series, adding the srv_* labels its labeler gives', () => {
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const servers: Record<number, [string, string]> = { 6379: ['server', 'web-opaque'], 8000: ['default', 'all-authenticated'] };
  const view = tcp.labelled((l) => {
    const [kind, name] = servers[Number(l.target_addr.split(':')[1])]!;
    return { ...l, srv: srvLabelsOf(kind, name) };
  });
  const a = new Socket();
  const b = new Socket();
  const c = new Socket();
  view.track(inbound(6379), a);
  view.track(inbound(8000), b);
  tcp.track({ direction: 'outbound', peer: 'dst', target_addr: '10.0.0.2:80', tls: 'no_identity', no_tls_reason: 'not_provided_by_service_discovery' }, c);
  const text = registry.text();
  assert.match(text, /^tcp_open_total\{direction="inbound",peer="src",target_addr="10\.0\.0\.1:6379",tls="true",client_id="client\.id",srv_kind="server",srv_name="web-opaque"\} 1$/m);
  assert.match(text, /^tcp_open_connections\{[^}]*srv_kind="default",srv_name="all-authenticated"\} 1$/m);
  assert.doesNotMatch(text, /^tcp_open_total\{direction="outbound"[^}]*srv_/m, 'the base metrics add nothing');
  assert.equal(view.open, tcp.open, 'one family, not two');
  a.destroy();
  b.destroy();
  c.destroy();
});

test('bytes and the close of a side tracked through a view carry its srv_* labels', async () => {
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const view = tcp.labelled((l) => ({ ...l, srv: srvLabelsOf('server', 'web-http') }));
  const s = new Socket();
  view.track(inbound(8000), s);
  Object.defineProperty(s, 'bytesRead', { value: 42 });
  tcp.flush(); // the base's flush reaches sides tracked through its views
  assert.match(registry.text(), /^tcp_read_bytes_total\{[^}]*srv_name="web-http"\} 42$/m);
  s.destroy();
  await new Promise((r) => s.once('close', r));
  const text = registry.text();
  assert.match(text, /^tcp_close_total\{[^}]*srv_kind="server",srv_name="web-http",classification="success",errno=""\} 1$/m);
  assert.match(text, /^tcp_open_connections\{[^}]*srv_name="web-http"\} 0$/m);
});

test('srv_* values are cut, and past MAX_SRV_SETS Servers a connection is recorded without them (counted)', () => {
  const long = srvLabelsOf('server', 'x'.repeat(300));
  assert.equal(long.srv_name.length, MAX_SRV_VALUE_LENGTH);
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  let n = 0;
  const view = tcp.labelled((l) => ({ ...l, srv: srvLabelsOf('server', `s${n++}`) }));
  const sockets: Socket[] = [];
  for (let i = 0; i < MAX_SRV_SETS + 3; i++) {
    const s = new Socket();
    sockets.push(s);
    view.track(inbound(8000), s);
  }
  const text = registry.text();
  assert.equal(text.match(/^tcp_open_total\{[^}]*srv_name=/gm)!.length, MAX_SRV_SETS);
  assert.match(text, /^tcp_open_total\{direction="inbound",peer="src",target_addr="10\.0\.0\.1:8000",tls="true",client_id="client\.id"\} 3$/m);
  assert.match(text, /^srv_label_sets_overflow_total\{metric="tcp_open_total"\} 3$/m);
  for (const s of sockets) s.destroy();
});

test('a view of a view applies both labelers, inner first', () => {
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const seen: string[] = [];
  const inner = tcp.labelled((l) => (seen.push('inner'), { ...l, srv: srvLabelsOf('default', 'deny') }));
  const outer = inner.labelled((l) => (seen.push(`outer saw ${l.srv?.srv_name}`), l));
  const s = new Socket();
  outer.track(inbound(1), s);
  assert.deepEqual(seen, ['inner', 'outer saw deny']);
  s.destroy();
});

test('tracked sockets share their listeners (no closures per connection); the socket error wins over failed, and each close is counted once', async () => {
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const a = new Socket();
  const b = new Socket();
  const sideA = tcp.track(inbound(8001), a);
  const sideB = tcp.track(inbound(8002), b);
  assert.equal(a.listeners('close')[0], b.listeners('close')[0]);
  assert.equal(a.listeners('error')[0], b.listeners('error')[0]);
  sideA.failed('ECONNREFUSED');
  sideB.failed('ECONNREFUSED');
  b.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  a.destroy();
  await Promise.all([new Promise((r) => a.once('close', r)), new Promise((r) => b.once('close', r))]);
  const text = registry.text();
  assert.match(text, /^tcp_close_total\{[^}]*target_addr="10\.0\.0\.1:8001"[^}]*errno="ECONNREFUSED"\} 1$/m);
  assert.match(text, /^tcp_close_total\{[^}]*target_addr="10\.0\.0\.1:8002"[^}]*errno="ECONNRESET"\} 1$/m);
  assert.match(text, /^tcp_open_connections\{[^}]*target_addr="10\.0\.0\.1:8001"[^}]*\} 0$/m);
});
