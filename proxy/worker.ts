/**
 * A proxy worker thread: its own SO_REUSEPORT listeners on the inbound and outbound ports (the
 * kernel spreads accepted connections across workers), its own metrics registry, and the
 * connection stacks. The main thread asks it for metrics and tells it when to drain.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { ProxyConfig } from './config';
import type { SocketAddr } from './config/parse';
import { LinnetError } from './errors';
import { createLogger } from './log';
import { HttpMetrics } from './metrics/http-metrics';
import { TcpMetrics } from './metrics/tcp-metrics';
import { LimitMetrics } from './metrics/limit-metrics';
import { LimitGuard } from './stack/limit-guard';
import { listenReusePort } from './native';
import { handleConnection } from './stack/connection';
import { drainHttp1 } from './http/h1';
import { drainH2 } from './http/h2/serve';
import { closeAppPool } from './http/orig-proto/inbound';
import { OpenConnections, type Side } from './stack/context';
import type { FromWorker, ToWorker } from './worker-messages';
import { MeshMetrics, type MeshContext } from './mesh/context';
import { OutboundBalancers } from './mesh/outbound-balancers';
import { TlsStore } from './tls/store';

const config = workerData as ProxyConfig;
const port = parentPort!;
const log = createLogger(config.log, `proxy/worker-${threadId}`);
const registry = new Registry();
const metrics = new TcpMetrics(registry);
const httpMetrics = new HttpMetrics(registry);
const open = new OpenConnections();
const limitMetrics = new LimitMetrics(registry);
const send = (m: FromWorker) => port.postMessage(m);
// How long a connection to a destination not seen before waits for discovery's first answer
// before going to the original destination.
const DISCOVERY_READY_MS = 1000;
const mesh: MeshContext = {
  // The main thread certifies and posts the material ('identity' message) at start and on rotation.
  tls: config.identity ? new TlsStore(config.identity.localName) : undefined,
  balancers: config.destinationAddr
    ? // Loaded only when configured, so an unmeshed proxy does not carry gRPC in every worker.
      new OutboundBalancers((require('./discovery') as typeof import('./discovery')).createDiscoveryClient({ addr: config.destinationAddr, log: log.child('discovery') }), {
        readyTimeoutMs: DISCOVERY_READY_MS,
        log: log.child('balance'),
      })
    : undefined,
  requireTlsPorts: config.inboundRequireTlsPorts,
  ingressMode: config.ingressMode,
  metrics: new MeshMetrics(registry),
};

function sideFor(direction: 'inbound' | 'outbound'): Side {
  const inbound = direction === 'inbound';
  return {
    direction,
    opaquePorts: inbound ? config.inboundOpaquePorts : config.outboundOpaquePorts,
    listenPort: (inbound ? config.inboundAddr : config.outboundAddr).port,
    detectTimeoutMs: config.detectTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    // As linkerd2-proxy labels plaintext: inbound peers did not offer TLS; the app and the local
    // target are reached over loopback; outbound targets have no identity from discovery (yet).
    srcNoTlsReason: inbound ? 'no_tls_from_remote' : 'loopback',
    dstNoTlsReason: inbound ? 'loopback' : 'not_provided_by_service_discovery',
  };
}

function listen(addr: SocketAddr, side: Side): Promise<Server> {
  const guard = new LimitGuard({
    direction: side.direction,
    max: side.direction === 'inbound' ? config.limits.inboundMaxConnections : config.limits.outboundMaxConnections,
    // Every connection gets the detect timeout to say something. Not more: during a flood the
    // cap fills within a second, and a longer grace left no connection old enough to make room,
    // so a newcomer (another client) was refused instead of an attacker's connection evicted.
    // The oldest silent one goes first, so the attacker's connections go before anyone who
    // arrived after them.
    minSilentAgeMs: side.detectTimeoutMs,
    metrics: limitMetrics,
    log,
  });
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket: Socket) => {
    if (!guard.admit(socket)) return;
    handleConnection(socket, { side, tcp: metrics, http: httpMetrics, open, log, mesh }).catch((err) => {
      log.error('connection handler failed', { error: (err as Error).stack ?? String(err) });
      socket.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    // Node calls listen(2) again with its own backlog, 511 unless given as the second argument
    // (a `backlog` option is ignored with `fd`): pass the same one. A flood of connections must
    // wait in this queue, not lose SYNs while the worker is busy.
    const backlog = config.limits.listenBacklog;
    const fd = listenReusePort(addr.host, addr.port, addr.family, backlog);
    server.once('error', reject);
    server.listen({ fd }, backlog, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error('listener error', { error: err.message }));
      resolve(server);
    });
  });
}

let servers: Server[] = [];
let draining = false;

function checkDrained(): void {
  if (draining && open.size === 0) send({ type: 'drained' });
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'metrics':
      open.flush();
      registry.getMetricsAsJSON().then(
        (json) => send({ type: 'metrics', id: m.id, metrics: json, latency: httpMetrics.latencySnapshot() }),
        (err) => log.error('metrics collection failed', { error: String(err) }),
      );
      break;
    case 'drain':
      draining = true;
      for (const s of servers) s.close();
      servers = [];
      drainHttp1(); // idle HTTP/1 keep-alive connections would otherwise hold the drain to its grace period
      drainH2(); // GOAWAY to HTTP/2 clients: in-flight streams finish, then their connections close
      closeAppPool(); // idle keep-alive connections to the app (orig-proto inbound)
      checkDrained();
      setInterval(checkDrained, 100).unref();
      break;
    case 'terminate':
      open.destroyAll();
      break;
    case 'identity':
      mesh.tls?.set(m.material);
      break;
  }
});

(async () => {
  try {
    servers = [await listen(config.inboundAddr, sideFor('inbound')), await listen(config.outboundAddr, sideFor('outbound'))];
    send({ type: 'listening' });
  } catch (err) {
    const e = err instanceof LinnetError ? err : new LinnetError('LINNET_LISTEN_FAILED', (err as Error).message);
    send({ type: 'start-failed', code: e.code, message: e.message, hint: e.hint });
  }
})();
