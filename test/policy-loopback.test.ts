/**
 * Authorization through the real inbound stack on loopback (no root, no pods): a policy service
 * over real gRPC feeding the proxy's policy client, the Inbound stack accepting real sockets (as
 * accept hands them over: the original destination given), a real app behind it. Client
 * addresses 127.0.0.1 and 127.0.0.2 stand for two clients a NetworkAuthentication tells apart.
 * Proves: a port's first connection waits for its policy (the proxy's own default would let it
 * in); 403 with l5d-proxy-error over HTTP/1; an opaque connection refused for one address,
 * served for the other, and closed when an edit stops allowing it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../core/log';
import { DEFAULT_CLUSTER } from '../core/policy/model';
import { PolicyIndex, type PodInfo } from '../control/policy/compile';
import { parsePolicyDocuments } from '../control/policy/documents';
import { createPolicyService } from '../control/policy/server';
import { PolicyHolder, type PolicySource } from '../control/policy/source';
import { OpenConnections, type Conn } from '../proxy/accept/context';
import { Inbound } from '../proxy/inbound/stack';
import { Authorizer } from '../proxy/inbound/policy/authz';
import { InboundPolicies } from '../proxy/inbound/policy/client';
import { AuthzMetrics } from '../proxy/metrics/authz-metrics';
import { HttpMetrics } from '../proxy/metrics/http-metrics';
import { noTls } from '../proxy/metrics/labels';
import { MeshMetrics } from '../proxy/metrics/mesh-metrics';
import { Registry } from '../proxy/metrics/registry';
import { TcpMetrics } from '../proxy/metrics/tcp-metrics';
import { loadProxyConfig } from '../proxy/runtime/config';
import { sideFor } from '../proxy/runtime/sides';

const log = createLogger('error', 'test', () => {});
const POD: PodInfo = { name: 'web', namespace: 'demo', labels: { app: 'web' }, portNames: new Map(), probes: new Map(), opaquePorts: new Set() };

const docs = (httpPort: number, opaquePort: number, allowed: string) => `
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: http }
spec: { podSelector: { matchLabels: { app: web } }, port: ${httpPort}, proxyProtocol: HTTP/1 }
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { namespace: demo, name: raw }
spec: { podSelector: { matchLabels: { app: web } }, port: ${opaquePort}, proxyProtocol: opaque }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { namespace: demo, name: from-net }
spec:
  targetRef: { kind: Namespace, name: demo, group: "" }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: NetworkAuthentication, name: net }]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: { namespace: demo, name: net }
spec: { networks: [{ cidr: 127.0.0.0/8, except: [${allowed === '127.0.0.2' ? '127.0.0.1/32' : '127.0.0.2/32'}] }] }
`;

describe('authorization through the inbound stack on loopback', () => {
  let app: HttpServer;
  let echo: Server;
  let proxy: Server;
  let proxyRaw: Server;
  let grpcServer: grpc.Server;
  let policies: InboundPolicies;
  let registry: Registry;
  const holder = new PolicyHolder();
  let appPort = 0;
  let echoPort = 0;
  const setPolicy = (allowed: string) => holder.set({ index: new PolicyIndex(parsePolicyDocuments(docs(appPort, echoPort, allowed), 'test.yaml')), pod: () => POD, service: () => undefined });

  before(async () => {
    app = createHttpServer((_req, res) => res.end('app'));
    await new Promise<void>((ok) => app.listen(0, '127.0.0.1', ok));
    appPort = (app.address() as AddressInfo).port;
    echo = createServer((s) => s.on('error', () => {}).pipe(s));
    await new Promise<void>((ok) => echo.listen(0, '127.0.0.1', ok));
    echoPort = (echo.address() as AddressInfo).port;
    setPolicy('127.0.0.2');
    const source: PolicySource = { kind: 'test', snapshot: () => holder.get(), subscribe: (fn) => holder.subscribe(fn), close: async () => {} };
    const svc = createPolicyService({ source, settings: { defaultPolicy: 'all-unauthenticated', clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' } });
    grpcServer = new grpc.Server();
    grpcServer.addService(svc.service, svc.implementation);
    const gport = await new Promise<number>((ok, fail) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));

    const config = loadProxyConfig({});
    registry = new Registry();
    // Nothing prefetched: the proxy's own default is all-unauthenticated, which would allow everything.
    policies = new InboundPolicies({ addr: `127.0.0.1:${gport}`, workload: '127.0.0.1', defaultPolicy: 'all-unauthenticated', clusterNetworks: DEFAULT_CLUSTER, ports: [] }, log);
    const authz = new Authorizer(policies, new AuthzMetrics(registry), log);
    const inbound = new Inbound(
      { side: sideFor(config, 'inbound'), http1: config.http1, http2: config.http2, requireTlsPorts: new Set() },
      { tls: undefined, tcp: new TcpMetrics(registry), http: new HttpMetrics(registry), mesh: new MeshMetrics(registry), log, authz },
    );
    const open = new OpenConnections();
    // One listener per original destination (what SO_ORIGINAL_DST would say behind iptables).
    const listener = async (port: number) => {
      const server = createServer((s: Socket) => {
        s.on('error', () => {});
        open.track(s);
        const conn: Conn = { side: inbound.side, target: { host: '127.0.0.1', port, addr: `127.0.0.1:${port}` }, srcTls: noTls('no_tls_from_remote'), open, log };
        void inbound.accept(s, conn, false);
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      return server;
    };
    proxy = await listener(appPort);
    proxyRaw = await listener(echoPort);
  });
  after(() => {
    policies?.close();
    grpcServer?.forceShutdown();
    proxy?.close();
    proxyRaw?.close();
    app?.close();
    echo?.close();
    app?.closeAllConnections();
  });

  const proxyPort = () => (proxy.address() as AddressInfo).port;
  const get = (from: string) =>
    new Promise<{ status: number; proxyError: string | undefined }>((ok, fail) => {
      const req = request({ host: '127.0.0.1', port: proxyPort(), path: '/x', localAddress: from, agent: false }, (res) => {
        res.resume();
        res.on('end', () => ok({ status: res.statusCode!, proxyError: res.headers['l5d-proxy-error'] as string | undefined }));
      });
      req.on('error', fail);
      req.end();
    });
  const count = (name: string, labels: Record<string, string>) =>
    registry
      .families()
      .find((f) => f.name === name)
      ?.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0) ?? 0;

  it('the first connection to a port waits for its policy: denied, not let in under the default', async () => {
    const r = await get('127.0.0.1');
    assert.equal(r.status, 403);
    assert.match(r.proxyError ?? '', /unauthorized request on route/);
    assert.equal((await get('127.0.0.2')).status, 200);
    // The golden metrics carry the Server too.
    assert.equal(count('request_total', { direction: 'inbound', srv_kind: 'server', srv_name: 'http' }), 2);
    assert.equal(count('response_total', { srv_name: 'http', status_code: '403' }), 1);
  });

  it('opaque: refused for one address, served for the other, closed when an edit stops allowing it', async () => {
    const open = (from: string) =>
      new Promise<Socket>((ok, fail) => {
        const s = connect({ host: '127.0.0.1', port: (proxyRaw.address() as AddressInfo).port, localAddress: from });
        s.once('connect', () => ok(s));
        s.once('error', fail);
      });
    const talk = (s: Socket, msg: string) =>
      new Promise<string>((ok) => {
        let got = '';
        s.on('data', (d) => {
          got += d;
          if (got.length >= msg.length) ok(got);
        });
        s.on('close', () => ok(got));
        s.on('error', () => {});
        s.write(msg);
      });
    const denied = await open('127.0.0.1');
    assert.equal(await talk(denied, 'hello'), '', 'reset, nothing echoed');
    const allowed = await open('127.0.0.2');
    assert.equal(await talk(allowed, 'hello'), 'hello');
    const closed = new Promise<number>((ok) => allowed.once('close', () => ok(Date.now())));
    const t0 = Date.now();
    setPolicy('127.0.0.1');
    const at = await closed;
    assert.ok(at - t0 < 1000, `closed ${at - t0} ms after the edit`);
    assert.equal(count('inbound_tcp_authz_terminate_total', { srv_name: 'raw' }), 1);
    assert.ok(count('inbound_tcp_authz_deny_total', { srv_name: 'raw' }) >= 1);
  });
});
