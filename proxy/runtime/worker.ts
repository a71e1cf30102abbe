/**
 * A proxy worker thread: its own SO_REUSEPORT listeners on the inbound and outbound ports (the
 * kernel spreads accepted connections across workers), its own metrics registry, and the two
 * stacks built from the configuration the main thread hands it. The main thread asks it for
 * metrics, gives it certificates, and tells it when to drain.
 */
import type { Server } from 'node:net';
import { parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { LinnetError } from '../../core/errors';
import { createLogger, type Logger } from '../../core/log';
import { acceptConnection, type Stack } from '../accept/connection';
import { OpenConnections } from '../accept/context';
import { LimitGuard } from '../accept/limit-guard';
import { listen } from '../accept/listener';
import { Inbound } from '../inbound/stack';
import { EventLoopMetrics } from '../metrics/event-loop';
import { HttpMetrics } from '../metrics/http-metrics';
import { LimitMetrics } from '../metrics/limit-metrics';
import { MeshMetrics } from '../metrics/mesh-metrics';
import { TcpMetrics } from '../metrics/tcp-metrics';
import type { OutboundBalancers } from '../outbound/balancers';
import { Outbound } from '../outbound/stack';
import { TlsStore } from '../transport/tls/store';
import type { ProxyConfig } from './config';
import { sideFor } from './sides';
import type { FromWorker, ToWorker } from './worker-messages';

/**
 * How long a connection to a destination not seen before waits for discovery's first answer
 * before going to the original destination.
 */
const DISCOVERY_READY_MS = 1000;

function balancersFor(config: ProxyConfig, log: Logger): OutboundBalancers | undefined {
  if (!config.destinationAddr) return undefined;
  // Loaded only when configured, so an unmeshed proxy does not carry gRPC in every worker.
  const { createDiscoveryClient } = require('../outbound/discovery') as typeof import('../outbound/discovery');
  const { OutboundBalancers } = require('../outbound/balancers') as typeof import('../outbound/balancers');
  return new OutboundBalancers(createDiscoveryClient({ addr: config.destinationAddr, log: log.child('discovery') }), {
    readyTimeoutMs: DISCOVERY_READY_MS,
    log: log.child('balance'),
  });
}

export function runWorker(config: ProxyConfig, port: MessagePort): void {
  const log = createLogger(config.log, `proxy/worker-${threadId}`);
  const send = (m: FromWorker) => port.postMessage(m);
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const http = new HttpMetrics(registry);
  const mesh = new MeshMetrics(registry);
  const limitMetrics = new LimitMetrics(registry);
  new EventLoopMetrics(registry);
  const open = new OpenConnections();
  // The main thread certifies and posts the material ('identity' message) at start and on rotation.
  const tls = config.identity ? new TlsStore(config.identity.localName) : undefined;

  const inboundLog = log.child('inbound');
  const inbound = new Inbound(
    { side: sideFor(config, 'inbound'), http1: config.http1, http2: config.http2, requireTlsPorts: config.inboundRequireTlsPorts },
    { tls, tcp, http, mesh, log: inboundLog },
  );
  const outboundLog = log.child('outbound');
  const outbound = new Outbound(
    { side: sideFor(config, 'outbound'), http1: config.http1, http2: config.http2 },
    { balancers: balancersFor(config, log), tls, ingressMode: config.ingressMode, tcp, http, mesh, log: outboundLog },
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
  let draining = false;
  const checkDrained = () => {
    if (draining && open.size === 0) send({ type: 'drained' });
  };

  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'metrics':
        tcp.flush();
        registry.getMetricsAsJSON().then(
          (json) => send({ type: 'metrics', id: m.id, metrics: json, latency: http.latencySnapshot() }),
          (err) => log.error('metrics collection failed', { error: String(err) }),
        );
        break;
      case 'drain':
        draining = true;
        for (const s of servers) s.close();
        servers = [];
        // Idle keep-alive clients would otherwise hold the drain to its grace period; HTTP/2
        // clients get GOAWAY and their in-flight streams finish; idle upstreams close.
        inbound.drain();
        outbound.drain();
        checkDrained();
        setInterval(checkDrained, 100).unref();
        break;
      case 'terminate':
        open.destroyAll();
        break;
      case 'identity':
        tls?.set(m.material);
        break;
    }
  });

  (async () => {
    try {
      servers = [await listenSide(inbound, inboundLog), await listenSide(outbound, outboundLog)];
      send({ type: 'listening' });
    } catch (err) {
      const e = err instanceof LinnetError ? err : new LinnetError('LINNET_LISTEN_FAILED', (err as Error).message);
      send({ type: 'start-failed', code: e.code, message: e.message, hint: e.hint });
    }
  })();
}

// The thread's entry: the supervisor starts this file with the configuration as workerData.
if (parentPort) runWorker(workerData as ProxyConfig, parentPort);
