import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './registry';
import { RouteMetrics } from './route-metrics';

const parent = { group: 'core', kind: 'Service', namespace: 'demo', name: 'web', port: 80 };
const route = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'demo', name: 'split', port: 0 };
const backend = { group: 'core', kind: 'Service', namespace: 'demo', name: 'web-v2', port: 80 };

describe('RouteMetrics', () => {
  it('writes Linkerd 2.16\'s route series with parent, route and backend labels', () => {
    const reg = new Registry();
    const m = new RouteMetrics(reg);
    const r = m.start(false, { parent, route });
    r.backend(backend);
    r.retry();
    r.backend(backend);
    r.end(200, undefined, '', true);
    const t = m.start(false, { parent, route });
    t.limitExceeded();
    t.end(504, undefined, 'REQUEST_TIMEOUT', false);
    m.start(true, { parent, route }).end(200, 14, '', false);
    const text = reg.text();
    const labels = 'parent_group="core",parent_kind="Service",parent_namespace="demo",parent_name="web",parent_port="80",parent_section_name="",route_group="gateway.networking.k8s.io",route_kind="HTTPRoute",route_namespace="demo",route_name="split"';
    assert.match(text, new RegExp(`^outbound_http_route_backend_requests_total\\{${labels},backend_group="core",backend_kind="Service",backend_namespace="demo",backend_name="web-v2",backend_port="80",backend_section_name=""\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^outbound_http_route_retry_requests_total\\{${labels}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^outbound_http_route_retry_successes_total\\{${labels}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^outbound_http_route_retry_limit_exceeded_total\\{${labels}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^outbound_http_route_request_statuses_total\\{${labels},http_status="504",error="REQUEST_TIMEOUT"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^outbound_http_route_request_duration_seconds_count\\{${labels}\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^outbound_grpc_route_request_statuses_total\\{${labels},grpc_status="14",error=""\\} 1$`, 'm'));
  });
});
