import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText } from '../../core/prom-text';
import { createLogger } from '../../core/log';
import { startVizApi, type VizBackend } from './api';
import { authzRows, renderAuthz, type AuthzRow } from './authz';
import type { ProxyTarget } from './inventory';
import { proxySnapshot } from './snapshot';
import type { TargetWindow } from './stat';

const CLIENT = 'client.demo.serviceaccount.identity.linnet.cluster.local';
const OTHER = 'other.demo.serviceaccount.identity.linnet.cluster.local';

/** A web proxy's /metrics after `n` rounds: per round 3 allowed (2 rest by client, 1 health), 2 denied, 1 opaque connection allowed, 1 refused. */
function webText(n: number, ip = '10.0.0.11'): string {
  const srv = (port: number, name: string) => `target_addr="${ip}:${port}",srv_kind="server",srv_name="${name}"`;
  const http = srv(8000, 'web-http');
  return [
    'process_start_time_seconds 1000',
    `inbound_http_authz_allow_total{${http},route_kind="HTTPRoute",route_name="rest",authz_kind="authorizationpolicy",authz_name="rest-clients",tls="true",client_id="${CLIENT}"} ${2 * n}`,
    `inbound_http_authz_allow_total{${http},route_kind="HTTPRoute",route_name="health",authz_kind="authorizationpolicy",authz_name="health-open",tls="no_identity"} ${n}`,
    `inbound_http_authz_deny_total{${http},route_kind="HTTPRoute",route_name="rest",tls="true",client_id="${OTHER}"} ${n}`,
    `inbound_http_authz_deny_total{${http},route_kind="HTTPRoute",route_name="rest",tls="no_identity"} ${n}`,
    `inbound_tcp_authz_allow_total{${srv(6379, 'web-opaque')},authz_kind="authorizationpolicy",authz_name="opaque-clients",tls="true",client_id="${CLIENT}"} ${n}`,
    `inbound_tcp_authz_deny_total{${srv(6379, 'web-opaque')},tls="true",client_id="${OTHER}"} ${n}`,
    // A port no Server selects: the default policy, allowed, never used in the window below.
    `inbound_http_authz_allow_total{target_addr="${ip}:8001",srv_kind="default",srv_name="all-authenticated",route_kind="default",route_name="default",authz_kind="default",authz_name="all-authenticated",tls="true",client_id="${OTHER}"} 4`,
    // The Server's responses: 3 a round answered 200 (the allowed), 2 answered 403 (the denied), 1 failed.
    `response_total{direction="inbound",authority="web",${http},tls="true",status_code="200",classification="success"} ${3 * n}`,
    `response_total{direction="inbound",authority="web",${http},tls="true",status_code="403",classification="success"} ${2 * n}`,
    `response_total{direction="inbound",authority="web",${http},tls="true",status_code="500",classification="failure"} ${n}`,
    ...['1', '5', '10', '+Inf'].map((le) => `response_latency_ms_bucket{direction="inbound",authority="web",${http},tls="true",le="${le}"} ${le === '1' ? 0 : 6 * n}`),
    // Without srv_* (no policy on this proxy's other traffic): not authz's business.
    `response_total{direction="inbound",authority="x",target_addr="${ip}:9000",tls="true",status_code="200",classification="success"} 1000`,
  ].join('\n');
}

const target = (pod: string, ip: string): ProxyTarget => ({ ip, admin: `${ip}:4191`, workload: 'web', namespace: 'demo', pod });
const snap = (text: string, at: number) => proxySnapshot(parsePromText(text).samples, at);
/** Two web pods over a 10 s window: 10 rounds then 30 on one, 0 then 10 on the other. */
function windows(): TargetWindow[] {
  return [
    { target: target('web-0', '10.0.0.11'), base: snap(webText(10), 10_000), cur: snap(webText(30), 20_000), up: true },
    { target: target('web-1', '10.0.0.12'), base: snap(webText(0, '10.0.0.12'), 10_000), cur: snap(webText(10, '10.0.0.12'), 20_000), up: true },
    { target: { ...target('client-0', '10.0.0.20'), workload: 'client' }, cur: snap(webText(99, '10.0.0.20'), 20_000), up: true },
  ];
}

const row = (rows: AuthzRow[], server: string, route: string, authorization: string) => rows.find((r) => r.server === server && r.route === route && r.authorization === authorization);

test('authz rows: per Server, route and authorization, the window\'s allowed and denied counts from every pod of the workload', () => {
  const rows = authzRows({ kind: 'deploy', name: 'web' }, windows());
  // 20 rounds on web-0 and 10 on web-1 in 10 s: 30 rounds.
  const rest = row(rows, 'web-http', 'rest', 'authorizationpolicy/rest-clients')!;
  assert.equal(rest.allowed, 60);
  assert.equal(rest.rps, 6);
  const denied = row(rows, 'web-http', 'rest', '')!;
  assert.equal(denied.denied, 60, 'both denied clients, one row');
  assert.equal(denied.unauthorizedRps, 6);
  assert.equal(row(rows, 'web-http', 'health', 'authorizationpolicy/health-open')!.allowed, 30);
  const tcp = row(rows, 'web-opaque', '', 'authorizationpolicy/opaque-clients')!;
  assert.equal(tcp.proto, 'tcp');
  assert.equal(tcp.allowed, 30);
  assert.equal(row(rows, 'web-opaque', '', '')!.denied, 30);
  // Counted before the window only: a row, with nothing in it.
  const idle = row(rows, 'default:all-authenticated', 'default', 'default/all-authenticated')!;
  assert.equal(idle.allowed + idle.denied, 0);
  // The Server's responses: 150 of 180 successes; all latencies in the 5 ms bucket.
  assert.equal(rest.successRate, 150 / 180);
  assert.ok(rest.p50! > 1 && rest.p50! <= 5 && rest.p99! <= 5, JSON.stringify(rest));
  assert.equal(denied.successRate, undefined, 'a row that let nothing in has no success rate');
  assert.equal(tcp.successRate, undefined);
  // Linkerd's order: Server, then route, then authorization.
  assert.deepEqual(rows.map((r) => `${r.server} ${r.route} ${r.authorization}`), [
    'default:all-authenticated default default/all-authenticated',
    'web-http health authorizationpolicy/health-open',
    'web-http rest ',
    'web-http rest authorizationpolicy/rest-clients',
    'web-opaque  ',
    'web-opaque  authorizationpolicy/opaque-clients',
  ]);
  // One pod only.
  assert.equal(row(authzRows({ kind: 'pod', name: 'web-1' }, windows()), 'web-http', 'rest', 'authorizationpolicy/rest-clients')!.allowed, 20);
});

test('authz table: Linkerd\'s columns and formats; - for a row without traffic; wide adds the counts', () => {
  const rows = authzRows({ kind: 'deploy', name: 'web' }, windows());
  const text = renderAuthz(rows, 'table');
  const lines = text.split('\n');
  assert.match(lines[0]!, /^ROUTE +SERVER +AUTHORIZATION +UNAUTHORIZED +SUCCESS +RPS +LATENCY_P50 +LATENCY_P95 +LATENCY_P99$/);
  assert.match(text, /^rest +web-http +authorizationpolicy\/rest-clients +0\.0rps +83\.33% +6\.0rps +\S+ms +\S+ms +\S+ms$/m);
  assert.match(text, /^rest +web-http +6\.0rps +- +0\.0rps +- +- +-$/m);
  assert.match(text, /^ +web-opaque +authorizationpolicy\/opaque-clients +0\.0rps +- +3\.0rps +- +- +-$/m);
  assert.match(text, /^default +default:all-authenticated +default\/all-authenticated +- +- +- +- +- +-$/m);
  assert.match(renderAuthz(rows, 'wide'), /^rest +web-http +authorizationpolicy\/rest-clients .* 60 +0 +requests$/m);
  assert.equal(renderAuthz([], 'table'), 'No authorizations found.');
  assert.deepEqual(JSON.parse(renderAuthz(rows, 'json')), JSON.parse(JSON.stringify(rows)));
});

test('the viz service answers /api/authz for a workload, 404 with the names for an unknown one, 400 without a ref', async () => {
  const backend: VizBackend = { windows: () => windows(), targets: () => [], raw: async () => '', onTick: () => () => {}, series: () => ({}) };
  const api = await startVizApi('127.0.0.1:0', backend, createLogger('error', 'test'));
  try {
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${api.port}${path}`);
      return { status: r.status, body: (await r.json()) as { rows?: AuthzRow[]; error?: string; known?: string[] } };
    };
    const ok = await get('/api/authz?ref=deploy/web&window=10s');
    assert.equal(ok.status, 200);
    assert.equal(row(ok.body.rows!, 'web-http', 'rest', 'authorizationpolicy/rest-clients')!.allowed, 60);
    const missing = await get('/api/authz?ref=deploy/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.known, ['client', 'web']);
    assert.equal((await get('/api/authz')).status, 400);
  } finally {
    await api.close();
  }
});
