/**
 * The Destination gRPC service over a DiscoverySource. Each Get/GetProfile stream resolves its
 * target against the current snapshot, sends the first message at once, and on every source
 * change re-resolves and sends only the difference (model.diffResolutions).
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../core/log';
import {
  DestinationError,
  diffResolutions,
  parseTarget,
  resolve,
  targetKey,
  type DestinationUpdate,
  type Resolution,
  type ResolvedEndpoint,
  type Target,
} from './model';
import { destinationServiceDefinition, type PbDestinationProfile, type PbGetDestination, type PbUpdate, type PbWeightedAddr } from '../../core/api/destination';
import type { DiscoverySource } from './source';

export function toPbAddr(e: ResolvedEndpoint): PbWeightedAddr {
  return {
    addr: { ip: e.ip, port: e.port },
    weight: e.weight,
    metric_labels: { ...e.labels },
    tls_identity: e.identity !== undefined ? { dns_like_identity: { name: e.identity } } : null,
    protocol_hint:
      e.hint === undefined
        ? null
        : {
            ...(e.hint === 'h2' ? { h2: {} } : { opaque: {} }),
            opaque_transport: e.opaqueTransportPort !== undefined ? { inbound_port: e.opaqueTransportPort } : null,
          },
  };
}

export function toPbUpdate(u: DestinationUpdate): PbUpdate {
  switch (u.kind) {
    case 'add':
      return { add: { addrs: u.endpoints.map(toPbAddr), metric_labels: { ...u.setLabels }, protocol: u.protocol ?? '' } };
    case 'remove':
      return { remove: { addrs: u.addrs.map((a) => ({ ip: a.ip, port: a.port })) } };
    case 'noEndpoints':
      return { no_endpoints: { exists: u.exists } };
  }
}

export function toPbProfile(r: Resolution): PbDestinationProfile {
  return {
    fully_qualified_name: r.fqn,
    opaque_protocol: r.opaque,
    routes: [],
    endpoint: r.single ? toPbAddr(r.single) : null,
  };
}

export interface DestinationServiceOptions {
  source: DiscoverySource;
  log?: Logger;
}

/** The service definition and its implementation, for grpc.Server#addService. */
export function createDestinationService(opts: DestinationServiceOptions): {
  service: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Ends every open stream (status OK) so clients reconnect elsewhere; for shutdown. */
  drain(): void;
} {
  const { source, log } = opts;
  const open = new Set<() => void>();

  // Shared shape of both streams: parse, send first, follow changes, stop when the call ends.
  const follow = <M>(
    call: grpc.ServerWritableStream<PbGetDestination, M>,
    rpc: string,
    messagesFor: (prev: Resolution | undefined, next: Resolution) => M[],
  ) => {
    let target: Target;
    try {
      target = parseTarget(call.request.path ?? '');
    } catch (err) {
      const msg = err instanceof DestinationError ? err.describe() : String(err);
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: msg });
      return;
    }
    const key = targetKey(target);
    log?.debug(`${rpc} opened`, { target: key, client: call.request.context_token || undefined });
    let prev: Resolution | undefined;
    let done = false;
    const push = () => {
      if (done) return;
      const next = resolve(source.snapshot(), target);
      for (const m of messagesFor(prev, next)) call.write(m);
      prev = next;
    };
    const unsubscribe = source.subscribe(push);
    const stop = () => {
      if (done) return;
      done = true;
      unsubscribe();
      open.delete(end);
      log?.debug(`${rpc} closed`, { target: key });
    };
    const end = () => {
      stop();
      call.end();
    };
    open.add(end);
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    push();
  };

  const implementation: grpc.UntypedServiceImplementation = {
    Get: (call: grpc.ServerWritableStream<PbGetDestination, PbUpdate>) =>
      follow(call, 'Get', (prev, next) => diffResolutions(prev, next).map(toPbUpdate)),
    GetProfile: (call: grpc.ServerWritableStream<PbGetDestination, PbDestinationProfile>) =>
      follow(call, 'GetProfile', (prev, next) => {
        const p = toPbProfile(next);
        if (prev !== undefined && JSON.stringify(toPbProfile(prev)) === JSON.stringify(p)) return [];
        return [p];
      }),
  };
  return {
    service: destinationServiceDefinition(),
    implementation,
    drain: () => {
      for (const end of [...open]) end();
    },
  };
}

/** Server options both control-plane servers use: tolerate proxies' keepalive pings. */
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

/** Binds a gRPC server; resolves to the bound port (useful with port 0). */
export function bindServer(server: grpc.Server, addr: string): Promise<number> {
  return new Promise((ok, fail) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? fail(err) : ok(port))),
  );
}

/** Stops a server: lets streams end for up to `graceMs`, then cuts what is left. */
export function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      done();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  });
}

/** A Destination server on `addr` (e.g. '127.0.0.1:0'), for the control command and tests. */
export async function serveDestination(opts: DestinationServiceOptions & { addr: string }): Promise<{
  port: number;
  server: grpc.Server;
  close(graceMs?: number): Promise<void>;
}> {
  const server = new grpc.Server(SERVER_OPTIONS);
  const { service, implementation, drain } = createDestinationService(opts);
  server.addService(service, implementation);
  const port = await bindServer(server, opts.addr);
  return {
    port,
    server,
    close: (graceMs = 500) => {
      const done = shutdownServer(server, graceMs);
      // After tryShutdown (no new calls), end the open streams so the shutdown completes now.
      if (graceMs > 0) drain();
      return done;
    },
  };
}
