import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../core/log';
import { DEFAULT_CLUSTER, type RequestView } from '../../../core/policy/model';
import type { Conn } from '../../accept/context';
import { AuthzMetrics } from '../../metrics/authz-metrics';
import { Registry } from '../../metrics/registry';
import { HttpProxyError } from '../../protocol/errors';
import { Authorizer } from './authz';
import { InboundPolicies } from './client';

const log = createLogger('error', 'test', () => {});
const req = (path: string): RequestView => ({ method: 'GET', path, query: '', host: 'web', header: () => undefined });
const conn = (clientAddr: string, clientId?: string): Conn =>
  ({
    target: { host: '10.1.0.5', port: 8080, addr: '10.1.0.5:8080' },
    srcTls: clientId ? { tls: 'true', client_id: clientId } : { tls: 'no_identity', no_tls_reason: 'no_tls_from_remote' },
    clientAddr,
    log,
  }) as unknown as Conn;

function setup(policy: 'all-authenticated' | 'cluster-unauthenticated' | 'deny' | 'audit') {
  const registry = new Registry();
  const policies = new InboundPolicies({ addr: undefined, workload: '', defaultPolicy: policy, clusterNetworks: DEFAULT_CLUSTER, ports: [] }, log);
  const authz = new Authorizer(policies, new AuthzMetrics(registry), log);
  const value = (name: string, labels: Record<string, string> = {}) =>
    registry
      .families()
      .find((f) => f.name === name)
      ?.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0) ?? 0;
  return { authz, value };
}

describe('Authorizer', () => {
  it('HTTP: a plaintext client gets 403 under all-authenticated, a meshed one passes; every request counted, cached or not', () => {
    const { authz, value } = setup('all-authenticated');
    const anon = authz.http(conn('10.1.0.9'));
    const meshed = authz.http(conn('10.1.0.9', 'web.demo.serviceaccount.identity.linnet.cluster.local'));
    for (let i = 0; i < 3; i++) {
      const refused = anon.check(req('/x'), false);
      assert.ok(refused instanceof HttpProxyError && refused.status === 403 && refused.grpcStatus === 7);
      assert.equal(meshed.check(req('/x'), false), undefined);
    }
    assert.equal(value('inbound_http_authz_deny_total', { srv_kind: 'default', srv_name: 'all-authenticated', route_name: 'default', tls: 'no_identity' }), 3);
    assert.equal(value('inbound_http_authz_allow_total', { authz_kind: 'default', authz_name: 'all-authenticated', tls: 'true' }), 3);
  });
  it('TCP: denied connections counted and refused; allowed ones counted', () => {
    const { authz, value } = setup('cluster-unauthenticated');
    assert.equal(authz.connection(conn('8.8.8.8'), () => {}), false);
    assert.equal(authz.connection(conn('10.2.0.1'), () => {}), true);
    assert.equal(value('inbound_tcp_authz_deny_total'), 1);
    assert.equal(value('inbound_tcp_authz_allow_total', { authz_name: 'cluster-unauthenticated' }), 1);
  });
  it('audit allows and counts under the audit authorization', () => {
    const { authz, value } = setup('audit');
    assert.equal(authz.http(conn('8.8.8.8')).check(req('/'), false), undefined);
    assert.equal(value('inbound_http_authz_allow_total', { authz_name: 'audit' }), 1);
  });
  it('deny: gRPC requests get PERMISSION_DENIED', () => {
    const { authz } = setup('deny');
    const r = authz.http(conn('10.1.0.9', 'x.y')).check(req('/pkg.S/M'), true);
    assert.ok(r instanceof HttpProxyError && r.grpcStatus === 7 && /unauthorized request on route/.test(r.headerValue));
  });
});
