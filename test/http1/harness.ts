/**
 * The HTTP/1 server on a real loopback listener with real peers: the proxy's own outbound stack
 * from the protocol to the upstream, without iptables (the original destination is given, as SO_ORIGINAL_DST
 * would give it). Network-namespace pods cover the redirected path (test/http1-pods.test.ts).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Registry } from '../../proxy/metrics/registry';
import type { H1Settings } from '../../proxy/protocol/h1/server';
import { DEFAULT_LIMITS } from '../../proxy/protocol/h1/parse-head';
import { HTTP1, loopbackProxy } from '../support/stacks';

export interface ProxyUnderTest {
  port: number;
  registry: Registry;
  /** The outbound stack's drain (SIGTERM): idle kept-alive clients close, busy ones after their response. */
  handler: { drain(): void };
  /** The upstream (original destination) for new connections. */
  setTarget(port: number, host?: string): void;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export const TEST_SETTINGS: Partial<H1Settings> = {
  limits: DEFAULT_LIMITS,
  responseTimeoutMs: 2000,
  pool: { maxIdlePerTarget: 16, idleTimeoutMs: 5000 },
};

export async function startProxy(targetPort: number, settings: Partial<H1Settings> = {}): Promise<ProxyUnderTest> {
  const lp = loopbackProxy({ http1: { ...TEST_SETTINGS, ...settings } });
  let target = { host: '127.0.0.1', port: targetPort };
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    void lp.serve('outbound', socket, HTTP1, target.port, target.host);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    registry: lp.registry,
    handler: { drain: () => lp.outbound.drain() },
    setTarget(port, host = '127.0.0.1') {
      target = { host, port };
    },
    metrics: async () => lp.registry.text(),
    async close() {
      lp.close();
      server.close();
    },
  };
}

/** A raw TCP upstream that records every byte each connection sent, and answers with `respond`. */
export interface RawUpstream {
  port: number;
  received: Buffer[];
  connections: number;
  all(): string;
  close(): void;
}

export async function rawUpstream(respond: (socket: Socket, data: Buffer, conn: number) => void): Promise<RawUpstream> {
  const state: RawUpstream = {
    port: 0,
    received: [],
    connections: 0,
    all: () => Buffer.concat(state.received).toString('latin1'),
    close: () => server.close(),
  };
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    const n = state.connections++;
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      state.received.push(d);
      respond(s, d, n);
    });
    s.on('end', () => s.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  const close = server.close.bind(server);
  state.close = () => {
    for (const s of sockets) s.destroy();
    close();
  };
  return state;
}

/** Sends raw bytes to `port`, returns everything received until the server closes (or `ms`). */
export async function rawExchange(port: number, send: string | Buffer | (string | Buffer)[], ms = 3000): Promise<{ data: string; closed: boolean; error?: string }> {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(s, 'connect');
  const parts = Array.isArray(send) ? send : [send];
  for (const p of parts) {
    s.write(p);
    if (parts.length > 1) await new Promise((r) => setTimeout(r, 20));
  }
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  return new Promise((resolve) => {
    let error: string | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closed: false, error });
    }, ms);
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closed: true, error });
    });
    s.on('end', () => s.end());
  });
}

/** Sum of a metric's samples whose labels include `labels` (text exposition). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls: Record<string, string> = {};
    for (const kv of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) ls[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) total += Number(m[3]);
  }
  return total;
}
