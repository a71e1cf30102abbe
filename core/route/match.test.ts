import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HttpMatch, RequestView } from '../policy/model';
import { matchRoute } from './match';
import { orderRoutes, type OutboundRoute, type RouteRule } from './model';

const req = (path: string, opts: { method?: string; headers?: Record<string, string>; query?: string; host?: string } = {}): RequestView => ({
  method: opts.method ?? 'GET',
  path,
  query: opts.query ?? '',
  host: opts.host ?? 'web.demo.svc.cluster.local',
  header: (n) => opts.headers?.[n],
});
const rule = (http: HttpMatch[]): RouteRule => ({ http, grpc: [], filters: [], backends: [], timeouts: {} });
const route = (name: string, created: string, rules: RouteRule[], opts: { ns?: string; hosts?: string[]; grpc?: boolean } = {}): OutboundRoute => ({
  ref: { group: 'gateway.networking.k8s.io', kind: opts.grpc ? 'GRPCRoute' : 'HTTPRoute', namespace: opts.ns ?? 'demo', name, port: 0 },
  created,
  hosts: opts.hosts ?? [],
  grpc: opts.grpc ?? false,
  rules,
});
const m = (x: Partial<HttpMatch>): HttpMatch => ({ headers: [], query: [], ...x });
const exact = (value: string) => ({ kind: 'exact' as const, value });
const prefix = (value: string) => ({ kind: 'prefix' as const, value });
const regex = (value: string) => ({ kind: 'regex' as const, value });
const hdr = (name: string, value: string) => ({ name, kind: 'exact' as const, value });

const picked = (routes: OutboundRoute[], r: RequestView, grpc = false) => {
  const x = matchRoute(orderRoutes(routes), grpc, r);
  return x ? `${x.route.ref.name}#${x.route.rules.indexOf(x.rule)}` : 'none';
};

// Written from the Gateway API's HTTPRoute precedence (HTTPRouteRule "matches" documentation):
// Exact path; longest PathPrefix; method; most header matches; most query matches; then the
// oldest route; then "{namespace}/{name}" alphabetically; then the first rule in the route.
describe('outbound route precedence (Gateway API)', () => {
  const cases: { name: string; routes: OutboundRoute[]; req: RequestView; want: string; grpc?: boolean }[] = [
    { name: 'Exact beats a longer prefix', routes: [route('a', '1', [rule([m({ path: prefix('/api/v1/users') })])]), route('b', '2', [rule([m({ path: exact('/api/v1/users') })])])], req: req('/api/v1/users'), want: 'b#0' },
    { name: 'the longest PathPrefix wins', routes: [route('a', '1', [rule([m({ path: prefix('/api') })])]), route('b', '2', [rule([m({ path: prefix('/api/v1') })])])], req: req('/api/v1/x'), want: 'b#0' },
    { name: 'PathPrefix is by segment: /api does not match /apix', routes: [route('a', '1', [rule([m({ path: prefix('/api') })])])], req: req('/apix'), want: 'none' },
    { name: 'a PathPrefix beats a RegularExpression', routes: [route('a', '1', [rule([m({ path: regex('/api/.*') })])]), route('b', '2', [rule([m({ path: prefix('/') })])])], req: req('/api/x'), want: 'b#0' },
    { name: 'a RegularExpression beats no match at all', routes: [route('a', '1', [rule([m({ path: regex('/api/[0-9]+') })])])], req: req('/api/12'), want: 'a#0' },
    { name: 'a regex is anchored', routes: [route('a', '1', [rule([m({ path: regex('/api/[0-9]+') })])])], req: req('/api/12/x'), want: 'none' },
    { name: 'with equal paths a method match wins', routes: [route('a', '1', [rule([m({ path: prefix('/'), headers: [hdr('x', '1')] })])]), route('b', '2', [rule([m({ path: prefix('/'), method: 'GET' })])])], req: req('/', { headers: { x: '1' } }), want: 'b#0' },
    { name: 'a method that differs does not match', routes: [route('a', '1', [rule([m({ method: 'POST' })])])], req: req('/'), want: 'none' },
    { name: 'then the most header matches', routes: [route('a', '1', [rule([m({ headers: [hdr('x', '1')] })])]), route('b', '2', [rule([m({ headers: [hdr('x', '1'), hdr('y', '2')] })])])], req: req('/', { headers: { x: '1', y: '2' } }), want: 'b#0' },
    { name: 'then the most query matches', routes: [route('a', '1', [rule([m({ query: [hdr('q', '1')] })])]), route('b', '2', [rule([m({ query: [hdr('q', '1'), hdr('r', '2')] })])])], req: req('/', { query: 'q=1&r=2' }), want: 'b#0' },
    { name: 'headers outrank query parameters', routes: [route('a', '1', [rule([m({ query: [hdr('q', '1'), hdr('r', '2')] })])]), route('b', '2', [rule([m({ headers: [hdr('x', '1')] })])])], req: req('/', { query: 'q=1&r=2', headers: { x: '1' } }), want: 'b#0' },
    { name: 'a tie goes to the oldest route', routes: [route('z', '2026-01-01T00:00:00Z', [rule([m({ path: prefix('/') })])]), route('a', '2026-01-02T00:00:00Z', [rule([m({ path: prefix('/') })])])], req: req('/x'), want: 'z#0' },
    { name: 'same age: namespace/name alphabetical', routes: [route('b', '1', [rule([m({ path: prefix('/') })])]), route('a', '1', [rule([m({ path: prefix('/') })])])], req: req('/x'), want: 'a#0' },
    { name: 'same age: the namespace counts before the name', routes: [route('a', '1', [rule([m({})])], { ns: 'zz' }), route('b', '1', [rule([m({})])], { ns: 'aa' })], req: req('/x'), want: 'b#0' },
    { name: 'within a route: the first matching rule on a tie', routes: [route('a', '1', [rule([m({ path: prefix('/') })]), rule([m({ path: prefix('/') })])])], req: req('/x'), want: 'a#0' },
    { name: 'within a route: a more specific later rule wins', routes: [route('a', '1', [rule([m({ path: prefix('/') })]), rule([m({ path: exact('/x') })])])], req: req('/x'), want: 'a#1' },
    { name: 'precedence is across routes, not route order: a newer specific route wins', routes: [route('old', '1', [rule([m({ path: prefix('/') })])]), route('new', '9', [rule([m({ path: prefix('/a') })])])], req: req('/a/b'), want: 'new#0' },
    { name: 'a rule without matches matches everything, as PathPrefix /', routes: [route('a', '1', [rule([])])], req: req('/anything'), want: 'a#0' },
    { name: 'an exact hostname beats a wildcard', routes: [route('a', '1', [rule([])], { hosts: ['*.example.com'] }), route('b', '2', [rule([])], { hosts: ['web.example.com'] })], req: req('/', { host: 'web.example.com' }), want: 'b#0' },
    { name: 'a hostname that does not match excludes the route', routes: [route('a', '1', [rule([])], { hosts: ['other.example.com'] })], req: req('/', { host: 'web.example.com' }), want: 'none' },
    { name: 'a GRPCRoute is not for HTTP requests', routes: [route('g', '1', [{ ...rule([]), grpc: [{ kind: 'exact', service: 'a.B', headers: [] }] }], { grpc: true })], req: req('/a.B/M'), want: 'none' },
    {
      name: 'gRPC: an exact method beats a service-only match',
      routes: [route('g1', '1', [{ ...rule([]), grpc: [{ kind: 'exact', service: 'a.B', headers: [] }] }], { grpc: true }), route('g2', '2', [{ ...rule([]), grpc: [{ kind: 'exact', service: 'a.B', method: 'M', headers: [] }] }], { grpc: true })],
      req: req('/a.B/M', { method: 'POST' }),
      grpc: true,
      want: 'g2#0',
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(picked(c.routes, c.req, c.grpc), c.want));

  it('the winner does not depend on the order routes arrive in', () => {
    const routes = [
      route('a', '1', [rule([m({ path: prefix('/') })])]),
      route('b', '2', [rule([m({ path: prefix('/v1') })])]),
      route('c', '1', [rule([m({ path: exact('/v1/x') })])]),
      route('d', '3', [rule([m({ path: prefix('/v1'), method: 'GET' })])]),
    ];
    const paths = ['/v1/x', '/v1/y', '/z', '/v1'];
    const want = paths.map((p) => picked(routes, req(p)));
    assert.deepEqual(want, ['c#0', 'd#0', 'a#0', 'd#0']);
    fc.assert(fc.property(fc.shuffledSubarray(routes, { minLength: 4, maxLength: 4 }), (shuffled) => paths.every((p, i) => picked(shuffled, req(p)) === want[i])));
  });
});

// The index (match.ts) must pick exactly what checking every match of every rule picks. This is
// that plain scan, written from the same precedence, as the reference.
function scanAll(routes: readonly OutboundRoute[], r: RequestView): string {
  const score = (x: HttpMatch): number[] | undefined => {
    if (x.path) {
      const v = x.path.value;
      const ok =
        x.path.kind === 'exact'
          ? r.path === v
          : x.path.kind === 'regex'
            ? new RegExp(`^(?:${v})$`).test(r.path)
            : ((p) => p === '/' || r.path === p || r.path.startsWith(`${p}/`))(v.length > 1 && v.endsWith('/') ? v.slice(0, -1) : v);
      if (!ok) return undefined;
    }
    if (x.method && x.method !== r.method) return undefined;
    if (!x.headers.every((h) => r.header(h.name) === h.value)) return undefined;
    const kind = x.path ? { exact: 3, prefix: 2, regex: 1 }[x.path.kind] : 0;
    return [kind, x.path ? x.path.value.length : 0, x.method ? 1 : 0, x.headers.length];
  };
  let best: number[] | undefined;
  let won = 'none';
  for (const route of routes) {
    route.rules.forEach((ru, i) => {
      const scores = ru.http.length === 0 ? [[2, 1, 0, 0]] : ru.http.map(score).filter((s): s is number[] => s !== undefined);
      for (const s of scores) {
        const better = !best || s.some((v, k) => v !== best![k]) && s.find((v, k) => v !== best![k])! > best[s.findIndex((v, k) => v !== best![k])]!;
        if (better) {
          best = s;
          won = `${route.ref.name}#${i}`;
        }
      }
    });
  }
  return won;
}

describe('the route index', () => {
  const segment = fc.constantFrom('a', 'b', 'ab', 'v1', '');
  // Request paths may hold empty segments ("//x"); route paths do not.
  const pathArb = fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => `/${s.join('/')}`);
  const routePathArb = fc.array(fc.constantFrom('a', 'b', 'ab', 'v1'), { minLength: 0, maxLength: 3 }).map((s) => `/${s.join('/')}`);
  const matchArb: fc.Arbitrary<HttpMatch> = fc.record({
    path: fc.option(
      fc.oneof(
        routePathArb.map((v) => exact(v)),
        fc.tuple(routePathArb, fc.boolean()).map(([v, slash]) => prefix(slash && v !== '/' ? `${v}/` : v)),
        fc.constantFrom(regex('/a.*'), regex('/[ab]+'), regex('/v1/.*')),
      ),
      { nil: undefined },
    ),
    method: fc.option(fc.constantFrom('GET', 'POST'), { nil: undefined }),
    headers: fc.array(fc.constantFrom(hdr('x', '1'), hdr('y', '2')), { maxLength: 2 }),
    query: fc.constant([]),
  });
  const tableArb = fc.array(fc.array(fc.array(matchArb, { maxLength: 3 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }).map((routes) => routes.map((rules, i) => route(`r${i}`, String(i), rules.map(rule))));
  const reqArb = fc.record({ path: pathArb, method: fc.constantFrom('GET', 'POST'), x: fc.boolean(), y: fc.boolean() });

  it('picks what checking every match picks', () => {
    fc.assert(
      fc.property(tableArb, fc.array(reqArb, { minLength: 1, maxLength: 10 }), (routes, reqs) => {
        const ordered = orderRoutes(routes);
        for (const q of reqs) {
          const headers: Record<string, string> = {};
          if (q.x) headers.x = '1';
          if (q.y) headers.y = '2';
          const r = req(q.path, { method: q.method, headers });
          assert.equal(picked(ordered, r), scanAll(ordered, r), `${q.method} ${q.path} ${JSON.stringify(headers)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
