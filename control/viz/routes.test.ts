import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parsePromText } from '../../core/prom-text';
import type { ProxyTarget } from './inventory';
import { PrometheusSource } from './prometheus-source';
import { histogramBound } from './quantile';
import { renderRoutes } from './render';
import { routeSuccess } from './route-snapshot';
import { routeRows } from './routes';
import { proxySnapshot } from './snapshot';
import type { TargetWindow } from './stat';

const target = (workload: string, ip: string, pod: string): ProxyTarget => ({ workload, pod, ip, admin: `${ip}:4191`, namespace: 'demo' }) as ProxyTarget;
const CLIENT = target('client', '10.0.0.20', 'client-0');
const SERVER = target('server', '10.0.0.11', 'server-0');
const OTHER = target('other', '10.0.0.12', 'other-0');

const parent = (name: string) => `parent_group="core",parent_kind="Service",parent_namespace="demo",parent_name="${name}",parent_port="8080",parent_section_name=""`;
const route = (kind: string, name: string) => `route_group="${kind === 'default' ? '' : 'gateway.networking.k8s.io'}",route_kind="${kind}",route_namespace="${kind === 'default' ? '' : 'demo'}",route_name="${name}"`;

/**
 * A client proxy's route metrics: on Service web, route `api` (retried: `ok` successes, `bad`
 * final 503s, `retries` retries) and route `rest`; on Service plain, the default route; durations
 * all under 50 ms but `slow` of them between 1 and 10 s.
 */
function clientText(o: { ok: number; bad: number; retries: number; rest: number; restBad: number; plain: number; slow?: number; plainOn11?: boolean }): string {
  const api = `${parent('web')},${route('HTTPRoute', 'api')}`;
  const rest = `${parent('web')},${route('HTTPRoute', 'rest')}`;
  const plain = `${parent('plain')},${route('default', 'http')}`;
  const backend = (name: string) => `backend_group="core",backend_kind="Service",backend_namespace="demo",backend_name="${name}",backend_port="8080",backend_section_name=""`;
  const hist = (l: string, n: number, slow = 0) =>
    ['0.05', '0.5', '1', '10', '+Inf'].map((le) => `outbound_http_route_request_duration_seconds_bucket{${l},le="${le}"} ${le === '0.05' || le === '0.5' || le === '1' ? n - slow : n}`);
  return [
    'process_start_time_seconds 1000',
    `outbound_http_route_request_statuses_total{${api},http_status="200",error=""} ${o.ok}`,
    `outbound_http_route_request_statuses_total{${api},http_status="503",error=""} ${o.bad}`,
    `outbound_http_route_retry_requests_total{${api}} ${o.retries}`,
    `outbound_http_route_backend_requests_total{${api},${backend('web')}} ${o.ok + o.bad + o.retries}`,
    ...hist(api, o.ok + o.bad, o.slow),
    `outbound_http_route_request_statuses_total{${rest},http_status="200",error=""} ${o.rest - o.restBad}`,
    `outbound_http_route_request_statuses_total{${rest},http_status="",error="REQUEST_TIMEOUT"} ${o.restBad}`,
    `outbound_http_route_backend_requests_total{${rest},${backend('web-v2')}} ${o.rest}`,
    ...hist(rest, o.rest),
    `outbound_http_route_request_statuses_total{${plain},http_status="200",error=""} ${o.plain}`,
    ...hist(plain, o.plain),
    // The endpoints it sent to, with their discovery labels (the --to filter reads these).
    `response_total{direction="outbound",authority="web:8080",target_addr="10.0.0.11:8080",tls="true",status_code="200",classification="success",dst_service="web-v2",dst_namespace="demo"} 5`,
    `response_total{direction="outbound",authority="plain:8080",target_addr="10.0.0.12:8080",tls="true",status_code="200",classification="success",dst_service="plain",dst_namespace="demo"} 5`,
    ...(o.plainOn11 ? [`response_total{direction="outbound",authority="plain:8080",target_addr="10.0.0.11:8080",tls="true",status_code="200",classification="success",dst_service="plain",dst_namespace="demo"} 1`] : []),
  ].join('\n');
}

const snap = (text: string, at: number) => proxySnapshot(parsePromText(text).samples, at);

test('outbound routes: a retried request counts once by its final status; per Service and route; [default] last; RPS over the window', () => {
  const w: TargetWindow[] = [
    { target: CLIENT, up: true, base: snap(clientText({ ok: 10, bad: 2, retries: 4, rest: 5, restBad: 0, plain: 1 }), 10_000), cur: snap(clientText({ ok: 30, bad: 7, retries: 19, rest: 25, restBad: 2, plain: 11, slow: 1 }), 20_000) },
    { target: SERVER, up: true, cur: snap('process_start_time_seconds 1000', 20_000) },
  ];
  const rows = routeRows({ ref: { kind: 'deploy', name: 'client' } }, w);
  assert.deepEqual(
    rows.map((r) => [r.direction, r.service, r.route, r.requests, r.success, r.failure, r.retries]),
    [
      ['outbound', 'plain', '[default]', 10, 10, 0, 0],
      ['outbound', 'web', 'api', 25, 20, 5, 15],
      ['outbound', 'web', 'rest', 20, 18, 2, 0],
    ],
  );
  const api = rows.find((r) => r.route === 'api')!;
  assert.equal(api.successRate, 0.8);
  assert.equal(api.rps, 2.5);
  assert.deepEqual(api.backends, { 'demo/web:8080': 40 });
  // 25 durations, 1 of them between 1 and 10 s: p50 and p95 within 50 ms, p99 within 10 s.
  assert.deepEqual([api.p50, api.p95, api.p99, api.latency], [50, 50, 10_000, 'buckets']);
  assert.equal(rows.find((r) => r.route === 'rest')!.p99, 50);
  const table = renderRoutes(rows, 'table');
  assert.match(table, /^ROUTE\s+SERVICE\s+DIR\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99$/m);
  assert.match(table, /^api\s+web\s+out\s+80\.00%\s+2\.5rps\s+<=50ms\s+<=50ms\s+<=10s$/m, table);
  assert.match(table, /^rest\s+web\s+out\s+90\.00%\s+2\.0rps/m);
  assert.match(renderRoutes(rows, 'wide'), /^api\s+web\s+out\s+.*HTTPRoute\s+demo\s+8080\s+25\s+15\s+demo\/web:8080=40$/m);
  // The client serves nothing: no inbound rows. The server has no route metrics and no inbound traffic.
  assert.deepEqual(routeRows({ ref: { kind: 'deploy', name: 'server' } }, w), []);
});

test('outbound routes --to: the Services whose endpoints (or whose routes\' backends\' endpoints) are the resource\'s pods', () => {
  const w: TargetWindow[] = [
    { target: CLIENT, up: true, cur: snap(clientText({ ok: 3, bad: 0, retries: 0, rest: 2, restBad: 0, plain: 1 }), 20_000) },
    { target: SERVER, up: true },
    { target: OTHER, up: true },
  ];
  const to = (name: string) => routeRows({ ref: { kind: 'deploy', name: 'client' }, to: { kind: 'deploy', name } }, w).map((r) => `${r.service} ${r.route}`);
  // 10.0.0.11 is an endpoint of web-v2, the backend of web's `rest` route.
  assert.deepEqual(to('server'), ['web rest']);
  assert.deepEqual(to('other'), ['plain [default]']);
  assert.deepEqual(to('client'), []);
  // A pod that is an endpoint of two Services is reached as both.
  w[0]!.cur = snap(clientText({ ok: 3, bad: 0, retries: 0, rest: 2, restBad: 0, plain: 1, plainOn11: true }), 20_000);
  assert.deepEqual(to('server'), ['plain [default]', 'web rest']);
});

test('a route past the last bucket, gRPC statuses, and the bucket bound', () => {
  assert.equal(routeSuccess('grpc', { grpc_status: '0', error: '' }), true);
  assert.equal(routeSuccess('grpc', { grpc_status: '14', error: '' }), false);
  assert.equal(routeSuccess('grpc', { grpc_status: '', error: 'REQUEST_TIMEOUT' }), false);
  assert.equal(routeSuccess('http', { http_status: '404', error: '' }), true);
  assert.equal(routeSuccess('http', { http_status: '500', error: '' }), false);
  assert.equal(routeSuccess('http', { http_status: '', error: 'UNEXPECTED' }), false);
  const b = new Map([[50, 2], [500, 2], [Infinity, 4]]);
  assert.equal(histogramBound(0.5, b), 50);
  assert.equal(histogramBound(0.51, b), Infinity);
  assert.equal(histogramBound(0.5, new Map()), undefined);
  const g = `${parent('echo')},route_group="gateway.networking.k8s.io",route_kind="GRPCRoute",route_namespace="demo",route_name="unary"`;
  const text = [
    `outbound_grpc_route_request_statuses_total{${g},grpc_status="0",error=""} 3`,
    `outbound_grpc_route_request_statuses_total{${g},grpc_status="14",error=""} 1`,
    ...['0.05', '0.5', '1', '10'].map((le) => `outbound_grpc_route_request_duration_seconds_bucket{${g},le="${le}"} 0`),
    `outbound_grpc_route_request_duration_seconds_bucket{${g},le="+Inf"} 4`,
  ].join('\n');
  const rows = routeRows({ ref: { kind: 'pod', name: 'client-0' } }, [{ target: CLIENT, up: true, cur: snap(text, 20_000) }]);
  assert.equal(rows[0]!.successRate, 0.75);
  assert.deepEqual(rows[0]!.over, ['p50', 'p95', 'p99']);
  assert.match(renderRoutes(rows, 'table'), /^unary\s+echo\s+out\s+75\.00%\s+-\s+>10s\s+>10s\s+>10s$/m);
});

test('inbound routes: a Server\'s named routes from the authorization counters (requests only); without them, [default] per authority', () => {
  const authz = (kind: string, name: string, n: number, deny = 0) => [
    `inbound_http_authz_allow_total{target_addr="10.0.0.11:8080",srv_kind="server",srv_name="web-http",route_kind="${kind}",route_name="${name}",authz_kind="authorizationpolicy",authz_name="all",tls="true",client_id="c"} ${n}`,
    ...(deny ? [`inbound_http_authz_deny_total{target_addr="10.0.0.11:8080",srv_kind="server",srv_name="web-http",route_kind="${kind}",route_name="${name}",tls="false"} ${deny}`] : []),
  ];
  const golden = (n: number) => [
    `response_total{direction="inbound",authority="web:8080",target_addr="10.0.0.12:8080",tls="true",status_code="200",classification="success"} ${n}`,
    `response_total{direction="inbound",authority="web:8080",target_addr="10.0.0.12:8080",tls="true",status_code="500",classification="failure"} 1`,
  ];
  const w: TargetWindow[] = [
    { target: SERVER, up: true, base: snap(['process_start_time_seconds 1000', ...authz('HTTPRoute', 'api', 2), ...golden(1)].join('\n'), 10_000), cur: snap(['process_start_time_seconds 1000', ...authz('HTTPRoute', 'api', 12, 3), ...authz('default', 'default', 5), ...golden(9)].join('\n'), 20_000) },
    // A replica whose Server has only the default route: its golden metrics say more.
    { target: { ...SERVER, ip: '10.0.0.12', pod: 'server-1', admin: '10.0.0.12:4191' }, up: true, cur: snap(['process_start_time_seconds 1000', ...authz('default', 'default', 10), ...golden(9)].join('\n'), 20_000) },
  ];
  const rows = routeRows({ ref: { kind: 'deploy', name: 'server' } }, w);
  assert.deepEqual(
    rows.map((r) => [r.direction, r.service, r.route, r.requests, r.classified, r.successRate]),
    [
      ['inbound', 'web-http', 'api', 13, false, undefined],
      ['inbound', 'web-http', '[default]', 5, false, undefined],
      ['inbound', 'web:8080', '[default]', 10, true, 0.9],
    ],
  );
  assert.match(renderRoutes(rows, 'table'), /^api\s+web-http\s+in\s+-\s+1\.3rps\s+-\s+-\s+-$/m);
  assert.deepEqual(routeRows({ ref: { kind: 'deploy', name: 'server' }, to: { kind: 'deploy', name: 'client' } }, w), []);
});

test('the Prometheus source gives the same route rows as the scraped text (a stand-in Prometheus API serving those samples)', async () => {
  const at = { base: 2_000_000, cur: 2_010_000 }; // after the proxy's start (1000 s)
  const texts = { base: clientText({ ok: 10, bad: 2, retries: 4, rest: 5, restBad: 0, plain: 1 }), cur: clientText({ ok: 30, bad: 7, retries: 19, rest: 25, restBad: 2, plain: 11 }) };
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://p');
    const t = Number(u.searchParams.get('time')) * 1000;
    const q = u.searchParams.get('query')!;
    const result =
      q === 'up'
        ? [{ metric: { instance: CLIENT.admin }, value: [t / 1000, '1'] }]
        : parsePromText(t <= at.base ? texts.base : texts.cur)
            .samples.filter((s) => new RegExp(`^(${/__name__=~"([^"]+)"/.exec(q)![1]})$`).test(s.name))
            .map((s) => ({ metric: { ...s.labels, __name__: s.name, instance: CLIENT.admin, job: 'linnet-proxy' }, value: [t / 1000, String(s.value)] }));
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const prom = new PrometheusSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const fromProm = await prom.windows([CLIENT], at.cur - at.base, at.cur);
    const embedded: TargetWindow[] = [{ target: CLIENT, up: true, base: snap(texts.base, at.base), cur: snap(texts.cur, at.cur) }];
    const pick = (rows: ReturnType<typeof routeRows>) => rows.map((r) => [r.service, r.route, r.requests, r.success, r.retries, r.rps, r.p50, r.p99]);
    const ref = { ref: { kind: 'deploy' as const, name: 'client' } };
    assert.deepEqual(pick(routeRows(ref, fromProm)), pick(routeRows(ref, embedded)));
    assert.equal(routeRows(ref, fromProm).find((r) => r.route === 'api')!.requests, 25);
  } finally {
    server.close();
  }
});

test('a workload\'s route rows are the sums of its pods\' rows (fast-check)', () => {
  const counts = fc.record({ ok: fc.nat(50), bad: fc.nat(10), retries: fc.nat(20), rest: fc.nat(30), plain: fc.nat(30) });
  fc.assert(
    fc.property(fc.array(fc.tuple(counts, counts), { minLength: 1, maxLength: 4 }), (pods) => {
      const w: TargetWindow[] = pods.map(([a, b], i) => {
        const t = target('client', `10.0.1.${i + 1}`, `client-${i}`);
        const base = { ok: a.ok, bad: a.bad, retries: a.retries, rest: a.rest, restBad: 0, plain: a.plain };
        const cur = { ok: a.ok + b.ok, bad: a.bad + b.bad, retries: a.retries + b.retries, rest: a.rest + b.rest, restBad: 0, plain: a.plain + b.plain };
        return { target: t, up: true, base: snap(clientText(base), 10_000), cur: snap(clientText(cur), 20_000) };
      });
      const key = (r: { service: string; route: string }) => `${r.service} ${r.route}`;
      const whole = new Map(routeRows({ ref: { kind: 'deploy', name: 'client' } }, w).map((r) => [key(r), r]));
      const summed = new Map<string, [number, number, number]>();
      for (const x of w) {
        for (const r of routeRows({ ref: { kind: 'pod', name: x.target.pod } }, w)) {
          const s = summed.get(key(r)) ?? [0, 0, 0];
          summed.set(key(r), [s[0] + r.requests, s[1] + r.success, s[2] + (r.retries ?? 0)]);
        }
      }
      assert.deepEqual([...whole.keys()].sort(), [...summed.keys()].sort());
      for (const [k, r] of whole) assert.deepEqual([r.requests, r.success, r.retries ?? 0], summed.get(k), k);
      // And the api route's requests are exactly what the pods were sent in the window.
      assert.equal(whole.get('web api')!.requests, pods.reduce((n, [, b]) => n + b.ok + b.bad, 0));
    }),
  );
});
