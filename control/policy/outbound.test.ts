import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromPbOutbound, toPbOutbound } from '../../core/api/outbound';
import { indexMesh } from '../destination/model';
import { parseMeshFile } from '../destination/mesh-file';
import { PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { meshServiceParent } from './mesh-pods';
import { compileOutbound } from './outbound';
import { PolicyResourceError } from './resources';

const DOCS = `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
  annotations:
    retry.linkerd.io/http: 5xx
    retry.linkerd.io/limit: "2"
    timeout.linkerd.io/request: 2s
    balancer.linkerd.io/failure-accrual: consecutive
    balancer.linkerd.io/failure-accrual-consecutive-max-failures: "3"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: split
  namespace: demo
  annotations:
    retry.linkerd.io/http: gateway-error
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Route, value: split }], remove: [x-drop] }
      backendRefs:
        - { name: web-v1, port: 80, weight: 90 }
        - { name: web-v2, port: 80, weight: 10 }
      timeouts: { request: 300ms }
    - matches: [{ path: { type: Exact, value: /old } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /new }, statusCode: 301 }
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: { name: other-port, namespace: demo }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: 81 }]
`;

describe('outbound policy compile', () => {
  const index = new PolicyIndex(parsePolicyDocuments(DOCS, 'routes.yaml'));
  const p = compileOutbound(index, { namespace: 'demo', name: 'web', port: 80 }, 'cluster.local');

  it('attaches the routes that name the Service port, with backends as authorities', () => {
    assert.deepEqual(p.routes.map((r) => r.ref.name), ['split']);
    assert.equal(p.authority, 'web.demo.svc.cluster.local:80');
    const [api, old] = p.routes[0]!.rules;
    assert.deepEqual(api!.backends.map((b) => [b.authority, b.weight]), [['web-v1.demo.svc.cluster.local:80', 90], ['web-v2.demo.svc.cluster.local:80', 10]]);
    assert.deepEqual(api!.filters, [{ kind: 'requestHeaderModifier', set: [['x-route', 'split']], add: [], remove: ['x-drop'] }]);
    assert.deepEqual(old!.filters, [{ kind: 'requestRedirect', status: 301, path: { kind: 'full', value: '/new' } }]);
  });

  it('the route decides retries, the rule its timeouts; the Service the rest', () => {
    const [api, old] = p.routes[0]!.rules;
    assert.deepEqual(api!.retry, { limit: 1, statuses: [[502, 504]], grpcCodes: [] });
    assert.deepEqual(api!.timeouts, { requestMs: 300 });
    assert.deepEqual(old!.timeouts, { requestMs: 2000 });
    assert.deepEqual(p.defaults.retry, { limit: 2, statuses: [[500, 599]], grpcCodes: [] });
    assert.deepEqual(p.failureAccrual, { maxFailures: 3, minPenaltyMs: 1000, maxPenaltyMs: 60_000, jitterRatio: 0.5 });
  });

  it('survives the wire unchanged', () => {
    const back = fromPbOutbound(JSON.parse(JSON.stringify(toPbOutbound(p))));
    // (JSON on both sides: the parsed matches carry `method: undefined` keys the wire drops)
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(p)));
  });

  it('refuses a bad route with the file, document and path of each problem', () => {
    const bad = DOCS.replace('weight: 10', 'weight: -1').replace('request: 300ms', 'request: soon').replace('retry.linkerd.io/http: gateway-error', 'retry.linkerd.io/http: 7xx');
    assert.throws(
      () => parsePolicyDocuments(bad, '/etc/routes.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof PolicyResourceError);
        assert.match(e.message, /^\/etc\/routes\.yaml is not a valid policy resource/);
        const want = ['spec.rules[0].backendRefs[1].weight: -1 is not an integer', 'spec.rules[0].timeouts.request: "soon" is not a duration', 'metadata.annotations.retry.linkerd.io/http: "7xx"'];
        for (const w of want) assert.ok(e.problems.some((x) => x.includes(`(HTTPRoute split): ${w}`)), `${w}\n${e.problems.join('\n')}`);
        return true;
      },
    );
  });

  it('finds the embedded mode\'s Service by virtual IP or by name, on a declared port', () => {
    const mesh = indexMesh(parseMeshFile('services:\n  - name: web.demo.svc.cluster.local\n    address: 10.96.0.10\n    ports: [80]\n  - name: plain.local\n    address: 10.96.0.11\n'));
    assert.deepEqual(meshServiceParent(mesh, { addr: '10.96.0.10:80' }), { name: 'web', namespace: 'demo', port: 80 });
    assert.deepEqual(meshServiceParent(mesh, { authority: 'web.demo.svc.cluster.local:80' }), { name: 'web', namespace: 'demo', port: 80 });
    assert.equal(meshServiceParent(mesh, { addr: '10.96.0.10:81' }), undefined);
    assert.equal(meshServiceParent(mesh, { addr: '10.96.0.11:80' }), undefined);
    assert.equal(meshServiceParent(mesh, { addr: '10.96.0.99:80' }), undefined);
  });
});
