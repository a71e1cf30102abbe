import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../proxy/metrics/registry';
import { RouteMetrics } from '../../proxy/metrics/route-metrics';
import { PolicyIndex } from '../../control/policy/compile';
import { parsePolicyDocuments } from '../../control/policy/documents';
import { compileOutbound } from '../../control/policy/outbound';
import { describeOutbound, formatRouteRows, routeRows } from '../../control/policy/routes-report';

describe('linnet routes reports', () => {
  it('reads a proxy\'s route metrics as rows per Service and route', () => {
    const reg = new Registry();
    const m = new RouteMetrics(reg);
    const parent = { group: 'core', kind: 'Service', namespace: 'demo', name: 'web', port: 80 };
    const route = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'demo', name: 'split', port: 0 };
    for (let i = 0; i < 8; i++) m.start(false, { parent, route }).end(200, undefined, '', true);
    const r = m.start(false, { parent, route });
    r.retry();
    r.end(200, undefined, '', true);
    const t = m.start(false, { parent, route });
    t.overflow();
    t.end(504, undefined, 'REQUEST_TIMEOUT', false);
    const rows = routeRows(reg.text());
    assert.deepEqual(rows, [{ parent: 'demo/web:80', route: 'HTTPRoute/split', requests: 10, success: 9, retries: 1, retrySuccesses: 1, limitExceeded: 0, overflow: 1, timeouts: 1 }]);
    assert.match(formatRouteRows(rows), /^demo\/web:80 +HTTPRoute\/split +10 +90\.00% +1 +1 +0 +1 +1$/m);
  });

  it('describes a Service port\'s compiled routes', () => {
    const docs = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { namespace: demo, name: split, annotations: { retry.linkerd.io/http: 5xx } }
spec:
  parentRefs: [{ group: core, kind: Service, name: web, port: 80 }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /api } }], backendRefs: [{ name: v1, port: 80, weight: 9 }, { name: v2, port: 80, weight: 1 }], timeouts: { request: 2s } }]
`;
    const lines = describeOutbound(compileOutbound(new PolicyIndex(parsePolicyDocuments(docs, 'x')), { namespace: 'demo', name: 'web', port: 80 }, 'cluster.local'));
    assert.deepEqual(lines, [
      'Service demo/web:80 (web.demo.svc.cluster.local:80)',
      '  retry budget: 20% + 10/s',
      '  HTTPRoute demo/split',
      '    rule 0: prefix /api → v1:80=9 v2:80=1; retry 500-599 limit 1; request 2s',
      '  default route → web; no retries; no timeouts',
    ]);
  });
});
