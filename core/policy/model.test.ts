import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatNet, netContains, parseIp, parseNet, NetError } from './net';
import { authorize, decideConnection, decideRequest, defaultPolicy, identityMatches, matchRoute, networkMatches, type Authz, type InboundRoute, type RequestView } from './model';

const ip = (s: string) => parseIp(s)!;
const req = (path: string, method = 'GET', headers: Record<string, string> = {}, host = 'web'): RequestView => {
  const q = path.indexOf('?');
  return { method, path: q < 0 ? path : path.slice(0, q), query: q < 0 ? '' : path.slice(q + 1), host, header: (n) => headers[n] };
};

describe('networks', () => {
  it('parses IPv4 and IPv6 networks and clears host bits', () => {
    assert.equal(formatNet(parseNet('10.1.2.3/8')), '10.0.0.0/8');
    assert.equal(formatNet(parseNet('fd00::1/8')), 'fd00::/8');
    assert.equal(formatNet(parseNet('10.0.0.7')), '10.0.0.7/32');
    assert.equal(parseNet('::ffff:10.0.0.0/104').family, 4, 'a mapped network is the IPv4 one');
  });
  it('refuses what is not a network, saying why', () => {
    assert.throws(() => parseNet('10.0.0.0/33'), (e: unknown) => e instanceof NetError && /prefix "33"/.test(e.message));
    assert.throws(() => parseNet('10.0.0/8'), NetError);
    assert.throws(() => parseNet('fd00::/129'), NetError);
    assert.throws(() => parseNet('/8'), NetError);
  });
  it('contains by prefix, per family; a mapped IPv4 client is IPv4', () => {
    assert.ok(netContains(parseNet('10.0.0.0/8'), ip('10.200.1.1')));
    assert.ok(!netContains(parseNet('10.0.0.0/8'), ip('11.0.0.1')));
    assert.ok(netContains(parseNet('10.0.0.0/8'), ip('::ffff:10.9.9.9')));
    assert.ok(netContains(parseNet('fd00::/8'), ip('fd12:3456::1')));
    assert.ok(!netContains(parseNet('fd00::/8'), ip('fe80::1')));
    assert.ok(netContains(parseNet('0.0.0.0/0'), ip('1.2.3.4')));
    assert.ok(!netContains(parseNet('0.0.0.0/0'), ip('::1')), 'IPv4 /0 does not hold IPv6');
  });
  it('cidr with except: inside the net and outside every exception', () => {
    const nets = [{ net: parseNet('10.0.0.0/8'), except: [parseNet('10.1.0.0/16'), parseNet('10.2.3.4/32')] }, { net: parseNet('fd00::/16'), except: [parseNet('fd00:1::/32')] }];
    assert.ok(networkMatches(nets, ip('10.3.0.1')));
    assert.ok(!networkMatches(nets, ip('10.1.200.1')));
    assert.ok(!networkMatches(nets, ip('10.2.3.4')));
    assert.ok(networkMatches(nets, ip('10.2.3.5')));
    assert.ok(networkMatches(nets, ip('fd00:2::1')));
    assert.ok(!networkMatches(nets, ip('fd00:1::1')));
    assert.ok(!networkMatches(nets, undefined), 'no address, no match');
  });
  it('property: an address is in its own /32 or /128 and in /0 of its family', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (a) => {
        const p = parseIp(a)!;
        assert.ok(p, a);
        const width = p.family === 4 ? 32 : 128;
        const own = p.family === 4 ? parseNet(`${[24n, 16n, 8n, 0n].map((s) => Number((p.value >> s) & 255n)).join('.')}/${width}`) : parseNet(`${a}/${width}`);
        assert.ok(netContains(own, p), a);
        assert.ok(netContains(parseNet(p.family === 4 ? '0.0.0.0/0' : '::/0'), p), a);
      }),
    );
  });
});

describe('identities', () => {
  const mesh = (identities: string[], suffixes: string[][]) => ({ kind: 'meshTLS' as const, identities, suffixes });
  it('exact, *, and *.suffix forms', () => {
    const web = 'web.demo.serviceaccount.identity.linnet.cluster.local';
    assert.ok(identityMatches(mesh([web], []), web));
    assert.ok(!identityMatches(mesh([web], []), 'api.demo.serviceaccount.identity.linnet.cluster.local'));
    assert.ok(identityMatches(mesh([], [[]]), web), '* is every identity');
    assert.ok(!identityMatches(mesh([], [[]]), undefined), '* still needs an identity');
    const demo = mesh([], ['demo.serviceaccount.identity.linnet.cluster.local'.split('.')]);
    assert.ok(identityMatches(demo, web));
    assert.ok(!identityMatches(demo, 'web.other.serviceaccount.identity.linnet.cluster.local'));
    assert.ok(!identityMatches(demo, 'demo.serviceaccount.identity.linnet.cluster.local'), 'the suffix itself has no label in front');
    assert.ok(!identityMatches(demo, 'webdemo.serviceaccount.identity.linnet.cluster.local'), 'suffixes match on label boundaries');
  });
  it('unauthenticated accepts anyone, with or without identity', () => {
    assert.ok(identityMatches({ kind: 'unauthenticated' }, undefined));
    assert.ok(identityMatches({ kind: 'unauthenticated' }, 'x.y'));
  });
});

describe('default policies', () => {
  const cluster = [parseNet('10.0.0.0/8')];
  const c = (addr: string, identity?: string) => ({ ip: ip(addr), identity });
  const allowed = (name: Parameters<typeof defaultPolicy>[0], client: ReturnType<typeof c>) => decideConnection(defaultPolicy(name, cluster), client).allowed;
  it('each default policy allows what its name says', () => {
    assert.deepEqual(
      (['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit'] as const).map((p) => [
        p,
        allowed(p, c('10.1.1.1')),
        allowed(p, c('10.1.1.1', 'a.b')),
        allowed(p, c('8.8.8.8')),
        allowed(p, c('8.8.8.8', 'a.b')),
      ]),
      [
        ['all-unauthenticated', true, true, true, true],
        ['all-authenticated', false, true, false, true],
        ['cluster-authenticated', false, true, false, false],
        ['cluster-unauthenticated', true, true, false, false],
        ['deny', false, false, false, false],
        ['audit', true, true, true, true],
      ],
    );
  });
  it('audit allows and says so', () => {
    const d = decideConnection(defaultPolicy('audit', cluster), c('8.8.8.8'));
    assert.ok(d.allowed && d.audit && d.authz.name === 'audit');
  });
  it('probe paths stay open under deny, GET only, exact path', () => {
    const p = defaultPolicy('deny', cluster, 'detect', ['/healthz', '/ready']);
    const anon = c('8.8.8.8');
    const d = decideRequest(p, anon, req('/healthz'), false);
    assert.ok(d.allowed && d.route?.name === 'probe');
    assert.equal(decideRequest(p, anon, req('/healthz', 'POST'), false).allowed, false);
    assert.equal(decideRequest(p, anon, req('/healthz/x'), false).allowed, false);
    assert.equal(decideRequest(p, anon, req('/'), false).allowed, false);
  });
});

describe('routes', () => {
  const authz = (name: string): Authz => ({ kind: 'authorizationpolicy', name, networks: [{ net: parseNet('0.0.0.0/0'), except: [] }], authn: { kind: 'unauthenticated' } });
  const route = (name: string, over: Partial<InboundRoute>): InboundRoute => ({ kind: 'HTTPRoute', name, hosts: [], http: [], grpc: [], authorizations: [authz(name)], ...over });
  const routes = [
    route('prefix-api', { http: [{ path: { kind: 'prefix', value: '/api' }, headers: [], query: [] }] }),
    route('exact-api-x', { http: [{ path: { kind: 'exact', value: '/api/x' }, headers: [], query: [] }] }),
    route('api-post', { http: [{ path: { kind: 'prefix', value: '/api' }, method: 'POST', headers: [], query: [] }] }),
    route('hdr', { http: [{ path: { kind: 'prefix', value: '/api' }, method: 'POST', headers: [{ name: 'x-a', kind: 'regex', value: 'a+' }], query: [] }] }),
    route('re', { http: [{ path: { kind: 'regex', value: '/re/[0-9]+' }, headers: [], query: [{ name: 'v', kind: 'exact', value: '2' }] }] }),
    route('grpc', { kind: 'GRPCRoute', grpc: [{ kind: 'exact', service: 'pkg.Svc', method: 'Get', headers: [] }] }),
    route('hosted', { hosts: ['*.example.com'], http: [{ path: { kind: 'prefix', value: '/h' }, headers: [], query: [] }] }),
  ];
  const name = (r: RequestView, grpc = false) => matchRoute(routes, grpc, r)?.name;
  it('prefers exact over prefix, then method, then headers', () => {
    assert.equal(name(req('/api/x')), 'exact-api-x');
    assert.equal(name(req('/api/y')), 'prefix-api');
    assert.equal(name(req('/api')), 'prefix-api');
    assert.equal(name(req('/apix')), undefined, 'prefixes match whole segments');
    assert.equal(name(req('/api/y', 'POST')), 'api-post');
    assert.equal(name(req('/api/y', 'POST', { 'x-a': 'aaa' })), 'hdr');
    assert.equal(name(req('/api/y', 'POST', { 'x-a': 'b' })), 'api-post');
  });
  it('regex paths are anchored; query params', () => {
    assert.equal(name(req('/re/12?v=2')), 're');
    assert.equal(name(req('/re/12?v=3')), undefined);
    assert.equal(name(req('/re/12x?v=2')), undefined);
  });
  it('gRPC routes take gRPC requests only', () => {
    assert.equal(name(req('/pkg.Svc/Get', 'POST'), true), 'grpc');
    assert.equal(name(req('/pkg.Svc/Get', 'POST'), false), undefined);
    assert.equal(name(req('/pkg.Svc/Put', 'POST'), true), undefined);
  });
  it('hostnames: wildcard needs a label in front', () => {
    assert.equal(name(req('/h', 'GET', {}, 'a.example.com')), 'hosted');
    assert.equal(name(req('/h', 'GET', {}, 'example.com')), undefined);
  });
  it('a request on no route is route-not-found; a route without a matching authorization is unauthorized', () => {
    const p = { protocol: 'detect' as const, server: { kind: 'server', name: 's' }, authorizations: [], routes: [route('only', { http: [{ path: { kind: 'exact', value: '/a' }, headers: [], query: [] }], authorizations: [] })] };
    const cl = { ip: ip('10.0.0.1'), identity: undefined };
    assert.deepEqual(decideRequest(p, cl, req('/b'), false), { allowed: false, reason: 'route-not-found' });
    const d = decideRequest(p, cl, req('/a'), false);
    assert.ok(!d.allowed && d.reason === 'unauthorized' && d.route?.name === 'only');
  });
  it('authorize picks the first that permits', () => {
    const a: Authz = { kind: 'authorizationpolicy', name: 'a', networks: [{ net: parseNet('10.0.0.0/8'), except: [] }], authn: { kind: 'meshTLS', identities: ['x'], suffixes: [] } };
    const b = authz('b');
    assert.equal(authorize([a, b], { ip: ip('10.0.0.1'), identity: 'x' })?.name, 'a');
    assert.equal(authorize([a, b], { ip: ip('10.0.0.1'), identity: 'y' })?.name, 'b');
    assert.equal(authorize([a], { ip: ip('11.0.0.1'), identity: 'x' }), undefined);
  });
});
