/**
 * The tap server, in the proxy's main thread: `io.linkerd.proxy.tap.Tap/Observe` on 4190 over
 * mTLS with the proxy's own certificate (rotated with it). The client must present a certificate
 * that chains to the trust anchors (else the handshake is refused) and names the tap identity
 * (else PERMISSION_DENIED). Each Observe becomes a TapSession here and a TapSpec in every lane;
 * the lanes' events come back through deliver().
 */
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SocketAddr } from '../../core/parse';
import { observeFromPb, TapMatchError, type PbObserveRequest, type TapEvent, type TapRequest } from '../../core/api/tap';
import { encodeTapEvent } from '../../core/api/tap-wire';
import { Counter, Gauge, type Registry } from '../metrics/registry';
import { grpcApi } from '../protocol/grpc/api';
import { GrpcServerStream } from '../protocol/grpc/server-stream';
import { H2Connection } from '../protocol/h2/connection';
import { GrpcStatus } from '../protocol/h2/grpc-status';
import type { Fields } from '../protocol/h2/semantics';
import type { H2Settings } from '../protocol/h2/settings';
import type { H2Stream } from '../protocol/h2/stream';
import { dnsSans } from '../transport/tls/peer-identity';
import type { TlsMaterial } from '../transport/tls/store';
import type { TapSpec } from './hub';
import { TapSession } from './session';

/** Taps open at once on one proxy; one more is refused with RESOURCE_EXHAUSTED. */
export const MAX_TAPS = 16;

export interface TapServerOptions {
  addr: SocketAddr;
  /** The identity allowed to tap. */
  svcName: string;
  maxRps: number;
  buffer: number;
  registry: Registry;
  log: Logger;
  /** Tells every lane a tap opened or closed. */
  lanes: { open(spec: TapSpec): void; close(id: number): void };
}

export class TapServer {
  private material: TlsMaterial | undefined;
  private server: TlsServer | undefined;
  private readonly connections = new Set<H2Connection>();
  private starting: Promise<void> | undefined;
  private readonly sessions = new Map<number, TapSession>();
  private nextId = 1;
  /** The port bound (LINNET_PROXY_TAP_LISTEN_ADDR's, or the one the system chose for port 0). */
  port: number | undefined;
  private readonly dropped: () => void;
  private readonly sent: Counter;
  private readonly refused: Counter;
  private readonly open: Gauge;

  constructor(private readonly opts: TapServerOptions) {
    this.dropped = new Counter(opts.registry, {
      name: 'tap_events_dropped_total',
      help: "Tap events dropped because the tap's reader was slower than traffic and its buffer was full",
    }).bind();
    this.sent = new Counter(opts.registry, { name: 'tap_events_sent_total', help: 'Tap events handed to tap readers' });
    this.refused = new Counter(opts.registry, { name: 'tap_refused_total', help: 'Observe calls refused, by reason', labelNames: ['reason'] });
    this.open = new Gauge(opts.registry, { name: 'tap_open', help: 'Taps open now' });
  }

  /**
   * The proxy's certificate, at start and after every rotation. The server listens once the first
   * one is in hand (there is nothing to serve mTLS with before). Rejects when it cannot listen.
   */
  setIdentity(m: TlsMaterial): Promise<void> {
    this.material = m;
    // A rotated certificate applies to the next handshake; open taps keep theirs.
    this.server?.setSecureContext(secureContext(m));
    this.starting ??= this.listen();
    return this.starting;
  }

  private async listen(): Promise<void> {
    // mTLS, TLS 1.3 only, as between proxies: a client certificate that does not chain to the
    // trust anchors never completes the handshake; one that does is then checked for the tap identity.
    const server = createTlsServer({ ...secureContext(this.material!), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (sock) => this.accept(sock));
    server.on('tlsClientError', () => {});
    const { host, port } = this.opts.addr;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new LinnetError('LINNET_LISTEN_FAILED', `tap server could not listen on ${where}: ${err.code ?? err.message}`, { hint: 'free the port or set LINNET_PROXY_TAP_LISTEN_ADDR' })));
      server.listen(port, host, () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
    this.server = server;
    this.opts.log.info('tap server listening', { addr: where, tap_identity: this.opts.svcName });
  }

  /** One tap client's connection: HTTP/2 over the mTLS socket, each stream an Observe call. */
  private accept(sock: TLSSocket): void {
    sock.on('error', () => {});
    const names = dnsSans(sock.getPeerCertificate()?.subjectaltname);
    const conn = new H2Connection(sock, { role: 'server', settings: TAP_H2, log: this.opts.log }, {
      onStream: (stream, fields) => this.onStream(stream, fields, names),
      onClose: () => this.connections.delete(conn),
    });
    this.connections.add(conn);
  }

  private onStream(stream: H2Stream, fields: Fields, names: string[]): void {
    const api = tapApi();
    let path = '';
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':path') path = fields[i + 1]!;
    const call = new GrpcServerStream(stream, api.codec, api.observe, (req, c) => this.observe(c, req as unknown as PbObserveRequest, names));
    if (path !== api.observe.path) call.fail(GrpcStatus.UNIMPLEMENTED, `${path} is not served here (only ${api.observe.path})`);
  }

  /** An event a lane reports for tap `id`. */
  deliver(id: number, e: TapEvent): void {
    this.sessions.get(id)?.offer(e);
  }

  close(): void {
    for (const id of [...this.sessions.keys()]) this.finish(id);
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    this.server?.close();
    this.server = undefined;
  }

  private observe(call: GrpcServerStream, request: PbObserveRequest, names: string[]): void {
    if (!names.includes(this.opts.svcName)) {
      this.refused.inc({ reason: 'identity' });
      this.opts.log.info('tap refused: not the tap identity', { peer: names.join(',') || '(none)' });
      call.fail(GrpcStatus.PERMISSION_DENIED, `tap is allowed to ${this.opts.svcName} only; the client is ${names.join(', ') || 'unidentified'}`);
      return;
    }
    let req: TapRequest;
    try {
      req = observeFromPb(request);
    } catch (err) {
      this.refused.inc({ reason: 'match' });
      call.fail(GrpcStatus.INVALID_ARGUMENT, err instanceof TapMatchError ? err.message : String(err));
      return;
    }
    if (this.sessions.size >= MAX_TAPS) {
      this.refused.inc({ reason: 'too_many' });
      call.fail(GrpcStatus.RESOURCE_EXHAUSTED, `this proxy already serves ${MAX_TAPS} taps`);
      return;
    }
    const id = this.nextId++;
    const maxRps = req.maxRps && req.maxRps > 0 ? Math.min(req.maxRps, this.opts.maxRps) : this.opts.maxRps;
    const session = new TapSession(
      { limit: req.limit, maxRps, buffer: this.opts.buffer, onDrop: this.dropped },
      {
        write: (e) => {
          this.sent.inc();
          // Events are encoded by hand (tap-wire.ts): a generic encoder was most of a tapped request's cost.
          return call.write(encodeTapEvent(e));
        },
        end: () => {
          call.end();
          this.finish(id);
        },
      },
    );
    this.sessions.set(id, session);
    this.open.inc();
    call.on('drain', () => session.drained());
    const gone = () => this.finish(id);
    call.on('cancelled', gone);
    this.opts.lanes.open({ id, ...(req.match ? { match: req.match } : {}), limit: req.limit, maxRps });
    // Headers now, before any event: the client knows the tap is open (and traffic from here on is seen).
    call.sendHeaders();
    this.opts.log.debug('tap opened', { id, limit: req.limit, max_rps: maxRps });
  }

  private finish(id: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.close();
    this.open.dec();
    this.opts.lanes.close(id);
  }
}

/** Tap streams carry small messages to one or two readers. */
const TAP_H2: H2Settings = { maxConcurrentStreams: MAX_TAPS, initialStreamWindowSize: 65_535, initialConnectionWindowSize: 1 << 20, maxSessionMemoryMb: 10, maxHeaderListSize: 16_384, keepAliveTimeoutMs: 0 };

function secureContext(m: TlsMaterial) {
  return { cert: m.certChainPem, key: m.keyPem, ca: m.trustAnchorsPem, minVersion: 'TLSv1.3' as const };
}

let api: { codec: ReturnType<typeof grpcApi>['codec']; observe: ReturnType<ReturnType<typeof grpcApi>['method']> } | undefined;
/** tap.proto's codec with 64-bit fields as decimal strings (an IPv6 address is two of them). */
function tapApi(): NonNullable<typeof api> {
  if (!api) {
    const base = grpcApi('tap.proto', { longs: 'string' });
    api = { codec: base.codec, observe: base.method('io.linkerd.proxy.tap.Tap', 'Observe') };
  }
  return api;
}
