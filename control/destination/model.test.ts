import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DestinationError,
  diffResolutions,
  indexMesh,
  parsePortList,
  parseTarget,
  resolve,
  type MeshService,
  type Resolution,
  type ResolvedEndpoint,
} from './model';

const svc = (over: Partial<MeshService> = {}): MeshService => ({
  name: 'web.demo.svc.cluster.local',
  addresses: ['10.96.0.10'],
  ports: [80, 6379],
  opaquePorts: new Set([6379]),
  labels: { service: 'web' },
  endpoints: [
    { ip: '10.1.0.1', port: 8080, identity: 'web.id', labels: { pod: 'a' }, weight: 10000 },
    { ip: '10.1.0.2', labels: { pod: 'b' }, weight: 10000 },
    { ip: '10.1.0.3', portMap: new Map([[80, 9090]]), labels: {}, weight: 1, opaquePorts: new Set([9090]) },
  ],
  ...over,
});

describe('parseTarget', () => {
  it('parses names, IPv4 and IPv6 targets', () => {
    assert.deepEqual(parseTarget('Web.Demo.svc.cluster.local.:8080'), { kind: 'name', name: 'web.demo.svc.cluster.local', port: 8080 });
    assert.deepEqual(parseTarget('web'), { kind: 'name', name: 'web', port: 80 });
    assert.deepEqual(parseTarget('10.0.0.1:443'), { kind: 'ip', ip: '10.0.0.1', port: 443 });
    assert.deepEqual(parseTarget('[FD00:0::1]:443'), { kind: 'ip', ip: 'fd00::1', port: 443 });
  });
  it('refuses what it cannot look up, with a stable code', () => {
    for (const bad of ['', 'a b', 'web:0', 'web:65536', 'web:x', '10.0.0.1', 'fd00::1', '[fd00::1]', '-web:80', 'a..b:80']) {
      assert.throws(() => parseTarget(bad), (e: unknown) => e instanceof DestinationError && e.code === 'LINNET_DESTINATION_BAD_PATH', bad);
    }
  });
});

describe('resolve', () => {
  const index = indexMesh({ services: [svc()], standalone: [{ ip: '10.2.0.9', identity: 'solo.id', labels: {}, weight: 10000 }], workloads: [] });

  it('by name: target ports from fixed port, service port, or port map', () => {
    const r = resolve(index, { kind: 'name', name: 'web.demo.svc.cluster.local', port: 80 });
    assert.equal(r.exists, true);
    assert.equal(r.fqn, 'web.demo.svc.cluster.local');
    assert.deepEqual([...r.endpoints.keys()], ['10.1.0.1:8080', '10.1.0.2:80', '10.1.0.3:9090']);
    assert.equal(r.endpoints.get('10.1.0.1:8080')!.hint, 'h2');
    assert.equal(r.endpoints.get('10.1.0.2:80')!.hint, undefined);
    // The pod marks its own port opaque; unmeshed, so no opaque transport.
    assert.equal(r.endpoints.get('10.1.0.3:9090')!.hint, 'opaque');
    assert.equal(r.endpoints.get('10.1.0.3:9090')!.opaqueTransportPort, undefined);
  });

  it('an opaque service port makes every endpoint opaque, meshed ones via the proxy port', () => {
    const r = resolve(index, { kind: 'ip', ip: '10.96.0.10', port: 6379 });
    assert.equal(r.opaque, true);
    // 10.1.0.3 has no mapping for 6379: not served there.
    assert.deepEqual([...r.endpoints.keys()], ['10.1.0.1:8080', '10.1.0.2:6379']);
    assert.equal(r.endpoints.get('10.1.0.1:8080')!.opaqueTransportPort, 4143);
  });

  it('a meshed endpoint whose workload says nothing has the default opaque ports (as its proxy does); an explicit list replaces them', () => {
    const mesh = (opaquePorts?: ReadonlySet<number>, identity: string | undefined = 'db.id') =>
      indexMesh({ services: [svc({ ports: [5432], opaquePorts: new Set(), endpoints: [{ ip: '10.1.0.7', labels: {}, weight: 1, ...(identity ? { identity } : {}), ...(opaquePorts ? { opaquePorts } : {}) }] })], standalone: [], workloads: [] });
    const ep = (m: ReturnType<typeof mesh>) => resolve(m, { kind: 'ip', ip: '10.96.0.10', port: 5432 }).endpoints.get('10.1.0.7:5432')!;
    assert.equal(ep(mesh()).hint, 'opaque');
    assert.equal(ep(mesh()).opaqueTransportPort, 4143);
    assert.equal(ep(mesh(new Set())).hint, 'h2');
    assert.equal(ep(mesh(new Set())).opaqueTransportPort, undefined);
    // Unmeshed: no proxy there, nothing to agree with.
    assert.equal(ep(mesh(undefined, '')).hint, undefined);
  });

  it('unknown names, addresses and unserved ports do not exist', () => {
    for (const t of [
      { kind: 'name' as const, name: 'nope', port: 80 },
      { kind: 'ip' as const, ip: '10.9.9.9', port: 80 },
      { kind: 'name' as const, name: 'web.demo.svc.cluster.local', port: 81 },
      { kind: 'ip' as const, ip: '10.1.0.1', port: 9999 },
    ]) {
      const r = resolve(index, t);
      assert.equal(r.exists, false, JSON.stringify(t));
      assert.equal(r.endpoints.size, 0);
    }
  });

  it('an endpoint IP resolves to that single endpoint; standalone pods on any port', () => {
    const one = resolve(index, { kind: 'ip', ip: '10.1.0.3', port: 9090 });
    assert.equal(one.single?.ip, '10.1.0.3');
    assert.equal(one.opaque, true);
    const solo = resolve(index, { kind: 'ip', ip: '10.2.0.9', port: 1234 });
    assert.equal(solo.single?.identity, 'solo.id');
    assert.equal(solo.single?.port, 1234);
  });

  it('a service with no ports listed serves every port', () => {
    const i = indexMesh({ services: [svc({ ports: [] })], workloads: [] });
    assert.equal(resolve(i, { kind: 'name', name: 'web.demo.svc.cluster.local', port: 12345 }).exists, true);
  });
});

const ep = (ip: string, extra: Partial<ResolvedEndpoint> = {}): ResolvedEndpoint => ({ ip, port: 80, weight: 10000, labels: {}, ...extra });
const res = (eps: ResolvedEndpoint[], exists = true, setLabels: Record<string, string> = {}): Resolution => ({
  exists,
  fqn: '',
  opaque: false,
  setLabels,
  endpoints: new Map(eps.map((e) => [`${e.ip}:${e.port}`, e])),
});

describe('diffResolutions', () => {
  it('first message: add everything, or no_endpoints with exists', () => {
    assert.deepEqual(diffResolutions(undefined, res([ep('1.1.1.1')])), [{ kind: 'add', endpoints: [ep('1.1.1.1')], setLabels: {} }]);
    assert.deepEqual(diffResolutions(undefined, res([], false)), [{ kind: 'noEndpoints', exists: false }]);
    assert.deepEqual(diffResolutions(undefined, res([], true)), [{ kind: 'noEndpoints', exists: true }]);
  });
  it('later: adds before removes, changed metadata re-added, nothing when equal', () => {
    const a = ep('1.1.1.1');
    const b = ep('2.2.2.2');
    assert.deepEqual(diffResolutions(res([a, b]), res([a, b])), []);
    assert.deepEqual(diffResolutions(res([a]), res([b])), [
      { kind: 'add', endpoints: [b], setLabels: {} },
      { kind: 'remove', addrs: [{ ip: '1.1.1.1', port: 80 }] },
    ]);
    const a2 = ep('1.1.1.1', { identity: 'x' });
    assert.deepEqual(diffResolutions(res([a, b]), res([a2, b])), [{ kind: 'add', endpoints: [a2], setLabels: {} }]);
    assert.deepEqual(diffResolutions(res([a]), res([a], true, { ns: 'x' })), [{ kind: 'add', endpoints: [a], setLabels: { ns: 'x' } }]);
  });
  it('the port\'s declared protocol travels with every add; a change of it alone re-adds every endpoint', () => {
    const a = ep('1.1.1.1');
    const http = { ...res([a]), protocol: 'http1' as const };
    assert.deepEqual(diffResolutions(undefined, http), [{ kind: 'add', endpoints: [a], setLabels: {}, protocol: 'http1' }]);
    assert.deepEqual(diffResolutions(http, http), []);
    assert.deepEqual(diffResolutions(http, res([a])), [{ kind: 'add', endpoints: [a], setLabels: {} }]);
    assert.deepEqual(diffResolutions(res([a]), { ...res([a]), protocol: 'h2' }), [{ kind: 'add', endpoints: [a], setLabels: {}, protocol: 'h2' }]);
  });
  it('going empty sends no_endpoints once', () => {
    assert.deepEqual(diffResolutions(res([ep('1.1.1.1')]), res([], true)), [{ kind: 'noEndpoints', exists: true }]);
    assert.deepEqual(diffResolutions(res([], true), res([], true)), []);
    assert.deepEqual(diffResolutions(res([], true), res([], false)), [{ kind: 'noEndpoints', exists: false }]);
  });
  it('property: applying the diff to the old set yields the new set', () => {
    const ips = fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 10 });
    fc.assert(
      fc.property(ips, ips, fc.boolean(), (xs, ys, exists) => {
        const prev = res(xs.map((x) => ep(`10.0.0.${x}`, { weight: x })), true);
        const next = res(ys.map((y) => ep(`10.0.0.${y}`, { weight: y % 3 === 0 ? 1 : y })), ys.length > 0 || exists);
        const set = new Map(prev.endpoints);
        for (const u of diffResolutions(prev, next)) {
          if (u.kind === 'add') for (const e of u.endpoints) set.set(`${e.ip}:${e.port}`, e);
          else if (u.kind === 'remove') for (const a of u.addrs) set.delete(`${a.ip}:${a.port}`);
          else set.clear();
        }
        assert.deepEqual(new Map([...set].sort()), new Map([...next.endpoints].sort()));
      }),
    );
  });
});

describe('parsePortList', () => {
  it('reads ports and ranges and reports bad parts', () => {
    const r = parsePortList('25, 587,8000-8002,x,0,9-3,');
    assert.deepEqual([...r.ports], [25, 587, 8000, 8001, 8002]);
    assert.deepEqual(r.bad, ['x', '0', '9-3']);
  });
});
