import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestView } from '../../../core/policy/model';
import type { OutboundPolicy, RouteRule } from '../../../core/route/model';
import { DEFAULT_BUDGET } from '../../../core/route/model';
import { editH1Head } from './h1-head';
import { planRequest, withRequestOverrides } from './plan';

const svc = (name: string) => ({ group: 'core', kind: 'Service', namespace: 'demo', name, port: 80 });
const view = (path: string, query = ''): RequestView => ({ method: 'GET', path, query, host: 'web.demo.svc.cluster.local', header: () => undefined });
const rule = (x: Partial<RouteRule>): RouteRule => ({ http: [], grpc: [], filters: [], backends: [], timeouts: {}, ...x });
const policy = (rules: RouteRule[]): OutboundPolicy => ({
  parent: svc('web'),
  authority: 'web.demo.svc.cluster.local:80',
  routes: [{ ref: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'demo', name: 'r', port: 0 }, created: '1', hosts: [], grpc: false, rules }],
  defaults: { timeouts: { requestMs: 5000 } },
  budget: DEFAULT_BUDGET,
});

describe('planRequest', () => {
  it('unmatched requests take the default route to the parent Service, with its defaults', () => {
    const p = planRequest(policy([rule({ http: [{ path: { kind: 'exact', value: '/x' }, headers: [], query: [] }] })]), false, view('/y'), 'http', 0.5);
    assert.equal(p.route.kind, 'default');
    assert.equal(p.backend?.authority, 'web.demo.svc.cluster.local:80');
    assert.deepEqual(p.timeouts, { requestMs: 5000 });
  });
  it('splits by weight and answers nothing for all-zero weights', () => {
    const backends = [
      { ref: svc('v1'), authority: 'v1.demo.svc.cluster.local:80', weight: 90 },
      { ref: svc('v2'), authority: 'v2.demo.svc.cluster.local:80', weight: 10 },
    ];
    assert.equal(planRequest(policy([rule({ backends })]), false, view('/'), 'http', 0.89).backend?.ref.name, 'v1');
    assert.equal(planRequest(policy([rule({ backends })]), false, view('/'), 'http', 0.91).backend?.ref.name, 'v2');
    assert.equal(planRequest(policy([rule({ backends: backends.map((b) => ({ ...b, weight: 0 })) })]), false, view('/'), 'http', 0.5).backend, undefined);
  });
  it('applies the chosen backend\'s own filters after the rule\'s', () => {
    const backends = [
      { ref: svc('v1'), authority: 'v1.demo.svc.cluster.local:80', weight: 1 },
      { ref: svc('v2'), authority: 'v2.demo.svc.cluster.local:80', weight: 1, filters: [{ kind: 'responseHeaderModifier' as const, set: [['x-canary', '1'] as const], add: [], remove: [] }] },
    ];
    const r = rule({ backends, filters: [{ kind: 'responseHeaderModifier', set: [], add: [['x-route', 'r'] as const], remove: [] }] });
    assert.deepEqual(planRequest(policy([r]), false, view('/'), 'http', 0.9).responseHeaders, { set: [['x-canary', '1']], add: [['x-route', 'r']], remove: [] });
    assert.deepEqual(planRequest(policy([r]), false, view('/'), 'http', 0.1).responseHeaders, { set: [], add: [['x-route', 'r']], remove: [] });
  });
  it('redirects with the prefix replaced, keeping the query', () => {
    const r = rule({ http: [{ path: { kind: 'prefix', value: '/old' }, headers: [], query: [] }], filters: [{ kind: 'requestRedirect', status: 301, path: { kind: 'prefix', value: '/new' }, hostname: 'example.com' }] });
    assert.deepEqual(planRequest(policy([r]), false, view('/old/a/b', 'q=1'), 'http', 0).redirect, { status: 301, location: 'http://example.com/new/a/b?q=1' });
    const full = rule({ filters: [{ kind: 'requestRedirect', status: 302, scheme: 'https', port: 8443, path: { kind: 'full', value: '/here' } }] });
    assert.deepEqual(planRequest(policy([full]), false, view('/x'), 'http', 0).redirect, { status: 302, location: 'https://web.demo.svc.cluster.local:8443/here' });
  });
  it('rewrites the URL for the upstream', () => {
    const r = rule({ http: [{ path: { kind: 'prefix', value: '/api/' }, headers: [], query: [] }], filters: [{ kind: 'urlRewrite', path: { kind: 'prefix', value: '/' } }] });
    assert.deepEqual(planRequest(policy([r]), false, view('/api/users', 'a=1'), 'http', 0).rewrite, { path: '/users?a=1' });
  });
});

describe('editH1Head', () => {
  const head = Buffer.from('GET /api/users?a=1 HTTP/1.1\r\nHost: web:80\r\nX-Drop: 1\r\nX-Keep: 2\r\nX-Set: old\r\n\r\n', 'latin1');
  it('sets, adds and removes headers; rewrites the target and host', () => {
    const out = editH1Head(head, { set: [['x-set', 'new']], add: [['x-add', 'a']], remove: ['x-drop'] }, { hostname: 'other', path: '/users?a=1' }).toString('latin1');
    assert.equal(out, 'GET /users?a=1 HTTP/1.1\r\nX-Keep: 2\r\nhost: other:80\r\nx-set: new\r\nx-add: a\r\n\r\n');
  });
  it('leaves a response status line alone', () => {
    const res = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', 'latin1');
    assert.equal(editH1Head(res, { set: [], add: [['x-route', 'r']], remove: [] }, undefined).toString('latin1'), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-route: r\r\n\r\n');
  });
});

describe('withRequestOverrides', () => {
  const base = planRequest({ ...policy([]), defaults: { timeouts: { requestMs: 5000 }, retry: { limit: 2, statuses: [[500, 599]], grpcCodes: [] } } }, false, view('/'), 'http', 0);
  const headers = (h: Record<string, string>) => (n: string) => h[n];
  it('a request\'s l5d-* headers replace the parts they name', () => {
    const { plan, problems } = withRequestOverrides(base, headers({ 'l5d-retry-limit': '0', 'l5d-timeout': '200ms' }));
    assert.deepEqual(problems, []);
    assert.deepEqual(plan.retry, { limit: 0, statuses: [[500, 599]], grpcCodes: [] });
    assert.deepEqual(plan.timeouts, { requestMs: 200 });
    const g = withRequestOverrides(base, headers({ 'l5d-retry-grpc': 'unavailable', 'l5d-retry-http': '' }));
    assert.deepEqual(g.plan.retry, { limit: 2, statuses: [], grpcCodes: [14] });
  });
  it('a header that does not read changes nothing and is reported by its header name', () => {
    const { plan, problems } = withRequestOverrides(base, headers({ 'l5d-retry-limit': 'many', 'l5d-timeout': '1s' }));
    assert.equal(plan, base);
    assert.match(problems[0]!, /^header l5d-retry-limit: "many" is not an integer/);
  });
  it('no l5d headers: the same plan', () => assert.equal(withRequestOverrides(base, headers({})).plan, base));
});
