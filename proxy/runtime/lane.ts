/**
 * A lane of traffic: its own SO_REUSEPORT listeners on the inbound and outbound ports (the kernel
 * spreads accepted connections across lanes), its own metrics registry, and the two stacks built
 * from the configuration it is handed. With one worker (a sidecar's default) the one lane runs in
 * the proxy's main thread, so the proxy is one isolate; with several, each runs in a worker
 * thread (worker.ts) and the main thread talks to it by messages.
 */
import type { Server } from 'node:net';
import { threadId } from 'node:worker_threads';
import { LinnetError } from '../../core/errors';
import { createLogger, type Logger } from '../../core/log';
import { acceptConnection, type Stack } from '../accept/connection';
import { OpenConnections } from '../accept/context';
import { LimitGuard } from '../accept/limit-guard';
import { listen } from '../accept/listener';
import type { Authorizer } from '../inbound/policy/authz';
import { Inbound } from '../inbound/stack';
import { EventLoopMetrics } from '../metrics/event-loop';
import { HttpMetrics, type LatencyCounts } from '../metrics/http-metrics';
import { LimitMetrics } from '../metrics/limit-metrics';
import { MeshMetrics } from '../metrics/mesh-metrics';
import { Registry } from '../metrics/registry';
import { TcpMetrics } from '../metrics/tcp-metrics';
import type { OutboundBalancers } from '../outbound/balancers';
import type { RouteServices } from '../outbound/route/route-call';
import { Outbound } from '../outbound/stack';
import { TapHub, type TapSink, type TapSpec } from '../tap/hub';
import { TlsStore, type TlsMaterial } from '../transport/tls/store';
import type { ProxyConfig } from './config';
import { sideFor } from './sides';
import type { MetricsJson } from './worker-messages';

/**
 * How long a connection to a destination not seen before waits for discovery's first answer
 * before going to the original destination.
 */
const DISCOVERY_READY_MS = 1000;

/** Discovery's balancers, and what to close them with; none without a Destination service. */
function balancersFor(config: ProxyConfig, log: Logger): { balancers: OutboundBalancers | undefined; close(): void } {
  if (!config.destinationAddr) return { balancers: undefined, close() {} };
  // Loaded only when configured, so an unmeshed proxy does not carry gRPC.
  const { createDiscoveryClient } = require('../outbound/discovery') as typeof import('../outbound/discovery');
  const { OutboundBalancers } = require('../outbound/balancers') as typeof import('../outbound/balancers');
  const discovery = createDiscoveryClient({ addr: config.destinationAddr, log: log.child('discovery') });
  const balancers = new OutboundBalancers(discovery, { readyTimeoutMs: DISCOVERY_READY_MS, log: log.child('balance') });
  return {
    balancers,
    close() {
      balancers.close();
      discovery.close();
    },
  };
}

/** What the runtime does with a lane. */
export interface Lane {
  /** Opens both listeners; rejects with a LinnetError (LINNET_LISTEN_FAILED) when one cannot. */
  listen(): Promise<void>;
  /** Its metrics (plain data, for the merge) and its exact latency snapshots. */
  metrics(): Promise<{ metrics: MetricsJson; latency: Record<string, LatencyCounts> }>;
  /** Stop accepting; `onDrained` once its last connection has closed. */
  drain(onDrained: () => void): void;
  /** The grace period is over: close whatever is still open. */
  terminate(): void;
  /** This proxy's certificate and key (at start and after every rotation). */
  setIdentity(material: TlsMaterial): void;
  /** The proxy is exiting: everything still open is closed (discovery streams, pools, timers). */
  close(): void;
  /** A tap opened or closed (nothing when tap is off in this proxy). */
  tapOpen(spec: TapSpec): void;
  tapClose(id: number): void;
}

/** Inbound authorization, when any policy is configured (none: the inbound stack skips it entirely). */
function authorizerFor(config: ProxyConfig, registry: Registry, log: Logger): Authorizer | undefined {
  const p = config.policy;
  if (!p.enabled) return undefined;
  // Loaded only when a policy is configured: a proxy without one carries none of it.
  const { InboundPolicies } = require('../inbound/policy/client') as typeof import('../inbound/policy/client');
  const { Authorizer } = require('../inbound/policy/authz') as typeof import('../inbound/policy/authz');
  const { AuthzMetrics } = require('../metrics/authz-metrics') as typeof import('../metrics/authz-metrics');
  const policies = new InboundPolicies(
    { addr: p.addr, workload: p.workload, defaultPolicy: p.defaultPolicy, clusterNetworks: p.clusterNetworks, ports: p.ports },
    log.child('policy'),
  );
  return new Authorizer(policies, new AuthzMetrics(registry), log.child('authz'));
}

/** Outbound routes: with a policy service and discovery (routes pick backends by their Service names). */
function routesFor(config: ProxyConfig, registry: Registry, log: Logger): { routes: RouteServices | undefined; close(): void } {
  const p = config.policy;
  if (!p.addr || !config.destinationAddr) return { routes: undefined, close() {} };
  const { OutboundPolicies } = require('../outbound/route/policy-client') as typeof import('../outbound/route/policy-client');
  const { RetryBudgets } = require('../outbound/route/route-call') as typeof import('../outbound/route/route-call');
  const { RouteMetrics } = require('../metrics/route-metrics') as typeof import('../metrics/route-metrics');
  const policies = new OutboundPolicies({ addr: p.addr, workload: p.workload, log: log.child('routes') });
  return {
    routes: { policies, metrics: new RouteMetrics(registry), budgets: new RetryBudgets(), allowRequestHeaders: config.allowL5dRequestHeaders, log: log.child('routes') },
    close: () => policies.close(),
  };
}

/** `tapSink`: where this lane's tap events go (the main thread's tap server); unused when tap is off. */
export function createLane(config: ProxyConfig, scope = `proxy/worker-${threadId}`, tapSink?: TapSink): Lane {
  const log = createLogger(config.log, scope);
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const http = new HttpMetrics(registry);
  const mesh = new MeshMetrics(registry);
  const limitMetrics = new LimitMetrics(registry);
  const loop = new EventLoopMetrics(registry);
  const open = new OpenConnections();
  // Certificates arrive from the identity client (setIdentity) at start and on rotation.
  const tls = config.identity ? new TlsStore(config.identity.localName) : undefined;
  // Tap off: no hub, and the stacks' one check is of an absent object.
  const tap = config.tap && tapSink ? new TapHub(tapSink) : undefined;

  const inboundLog = log.child('inbound');
  const authz = authorizerFor(config, registry, inboundLog);
  const inbound = new Inbound(
    { side: sideFor(config, 'inbound'), http1: config.http1, http2: config.http2, requireTlsPorts: config.inboundRequireTlsPorts },
    { tls, tcp, http, mesh, log: inboundLog, ...(authz ? { authz } : {}), ...(tap ? { tap } : {}) },
  );
  const outboundLog = log.child('outbound');
  const discovery = balancersFor(config, log);
  const routes = routesFor(config, registry, log);
  const outbound = new Outbound(
    { side: sideFor(config, 'outbound'), http1: config.http1, http2: config.http2, meshedHttp1: config.meshedHttp1 },
    { balancers: discovery.balancers, tls, ingressMode: config.ingressMode, tcp, http, mesh, log: outboundLog, ...(tap ? { tap } : {}), ...(routes.routes ? { routes: routes.routes } : {}) },
  );

  const listenSide = (stack: Stack, sideLog: Logger): Promise<Server> => {
    const { side } = stack;
    const inbound = side.direction === 'inbound';
    const addr = inbound ? config.inboundAddr : config.outboundAddr;
    const guard = new LimitGuard({
      direction: side.direction,
      max: inbound ? config.limits.inboundMaxConnections : config.limits.outboundMaxConnections,
      // Every connection gets the detect timeout to say something. Not more: during a flood the
      // cap fills within a second, and a longer grace left no connection old enough to make room,
      // so a newcomer (another client) was refused instead of an attacker's connection evicted.
      // The oldest silent one goes first, so the attacker's connections go before anyone who
      // arrived after them.
      minSilentAgeMs: side.detectTimeoutMs,
      metrics: limitMetrics,
      log,
    });
    return listen(
      addr,
      config.limits.listenBacklog,
      guard,
      (socket) => {
        acceptConnection(socket, stack, open, sideLog).catch((err) => {
          log.error('connection handler failed', { error: (err as Error).stack ?? String(err) });
          socket.destroy();
        });
      },
      log,
    );
  };

  let servers: Server[] = [];
  return {
    async listen() {
      try {
        servers = [await listenSide(inbound, inboundLog), await listenSide(outbound, outboundLog)];
      } catch (err) {
        for (const s of servers) s.close();
        throw err instanceof LinnetError ? err : new LinnetError('LINNET_LISTEN_FAILED', (err as Error).message);
      }
    },
    async metrics() {
      tcp.flush();
      return { metrics: registry.families(), latency: http.latencySnapshot() };
    },
    drain(onDrained) {
      for (const s of servers) s.close();
      servers = [];
      // Idle keep-alive clients would otherwise hold the drain to its grace period; HTTP/2
      // clients get GOAWAY and their in-flight streams finish; idle upstreams close.
      inbound.drain();
      outbound.drain();
      let told = false;
      const check = () => {
        if (told || open.size > 0) return;
        told = true;
        clearInterval(timer);
        onDrained();
      };
      const timer = setInterval(check, 100);
      timer.unref();
      check();
    },
    terminate() {
      open.destroyAll();
    },
    setIdentity(material) {
      tls?.set(material);
    },
    tapOpen(spec) {
      tap?.open(spec);
    },
    tapClose(id) {
      tap?.close(id);
    },
    close() {
      for (const s of servers) s.close();
      servers = [];
      open.destroyAll();
      inbound.drain();
      outbound.drain();
      discovery.close();
      routes.close();
      authz?.policies.close();
      loop.close();
    },
  };
}
