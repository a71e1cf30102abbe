/**
 * The proxy's inbound and outbound stacks on loopback, for tests that need no root: the real code
 * from the protocol servers down to the pools and dials, with the configuration parsed from an
 * environment as at start-up, and each connection's original destination (and, for a peer
 * proxy's connection, its identity) given as accept would give it.
 */
import type { Socket } from 'node:net';
import { Registry } from '../../proxy/metrics/registry';
import { createLogger, type Logger } from '../../core/log';
import { OpenConnections, type Conn } from '../../proxy/accept/context';
import type { Detected } from '../../proxy/accept/detect/detect';
import { Inbound } from '../../proxy/inbound/stack';
import { HttpMetrics } from '../../proxy/metrics/http-metrics';
import { noTls, type TlsLabels } from '../../proxy/metrics/labels';
import { MeshMetrics } from '../../proxy/metrics/mesh-metrics';
import { TcpMetrics } from '../../proxy/metrics/tcp-metrics';
import { Outbound } from '../../proxy/outbound/stack';
import type { H1Settings } from '../../proxy/protocol/h1/server';
import { loadProxyConfig, type ProxyConfig } from '../../proxy/runtime/config';
import { sideFor } from '../../proxy/runtime/sides';
import type { TapHub } from '../../proxy/tap/hub';

export const HTTP1: Detected = Object.freeze({ kind: 'http1', method: 'GET', target: '/', version: '1.1' });
export const H2: Detected = Object.freeze({ kind: 'h2' });

export interface LoopbackProxy {
  config: ProxyConfig;
  registry: Registry;
  tcp: TcpMetrics;
  http: HttpMetrics;
  open: OpenConnections;
  log: Logger;
  inbound: Inbound;
  outbound: Outbound;
  /** A connection on `direction` bound for host:port; `srcTls`: a peer proxy's identity (inbound). */
  conn(direction: 'inbound' | 'outbound', port: number, host?: string, srcTls?: TlsLabels): Conn;
  /** Serves `socket` as `detected` on `direction`, bound for host:port (tracked for close()). */
  serve(direction: 'inbound' | 'outbound', socket: Socket, detected: Detected, port: number, host?: string, srcTls?: TlsLabels, prefix?: Buffer): Promise<void>;
  /** Drains both stacks and closes every connection still open. */
  close(): void;
}

export function loopbackProxy(opts: { env?: Record<string, string>; http1?: Partial<H1Settings>; tap?: TapHub } = {}): LoopbackProxy {
  const base = loadProxyConfig(opts.env ?? {});
  const config: ProxyConfig = { ...base, http1: { ...base.http1, ...opts.http1 } };
  const registry = new Registry();
  const tcp = new TcpMetrics(registry);
  const http = new HttpMetrics(registry);
  const mesh = new MeshMetrics(registry);
  const open = new OpenConnections();
  const log = createLogger(process.env.LINNET_TEST_LOG === 'debug' ? 'debug' : 'error', 'test');
  const inbound = new Inbound(
    { side: sideFor(config, 'inbound'), http1: config.http1, http2: config.http2, requireTlsPorts: config.inboundRequireTlsPorts },
    { tls: undefined, tcp, http, mesh, log, ...(opts.tap ? { tap: opts.tap } : {}) },
  );
  const outbound = new Outbound(
    { side: sideFor(config, 'outbound'), http1: config.http1, http2: config.http2 },
    { balancers: undefined, tls: undefined, ingressMode: false, tcp, http, mesh, log, ...(opts.tap ? { tap: opts.tap } : {}) },
  );
  const conn = (direction: 'inbound' | 'outbound', port: number, host = '127.0.0.1', srcTls?: TlsLabels): Conn => {
    const side = direction === 'inbound' ? inbound.side : outbound.side;
    return { side, target: { host, port, addr: `${host}:${port}` }, srcTls: srcTls ?? noTls(side.srcNoTlsReason), open, log };
  };
  return {
    config,
    registry,
    tcp,
    http,
    open,
    log,
    inbound,
    outbound,
    conn,
    serve(direction, socket, detected, port, host, srcTls, prefix = Buffer.alloc(0)) {
      open.track(socket);
      socket.on('error', () => {});
      const stack = direction === 'inbound' ? inbound : outbound;
      return stack.serve(socket, prefix, detected, conn(direction, port, host, srcTls));
    },
    close() {
      inbound.drain();
      outbound.drain();
      open.destroyAll();
    },
  };
}
