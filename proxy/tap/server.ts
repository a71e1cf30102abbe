/**
 * The tap server, in the proxy's main thread: `io.linkerd.proxy.tap.Tap/Observe` on 4190 over
 * mTLS with the proxy's own certificate (rotated with it). The client must present a certificate
 * that chains to the trust anchors (else the handshake is refused) and names the tap identity
 * (else PERMISSION_DENIED). Each Observe becomes a TapSession here and a TapSpec in every lane;
 * the lanes' events come back through deliver().
 */
import * as grpc from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import type { CaCertificateUpdateListener, CertificateProvider, IdentityCertificateUpdateListener } from '@grpc/grpc-js/build/src/certificate-provider';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SocketAddr } from '../../core/parse';
import { observeFromPb, tapServiceDefinition, TapMatchError, type PbObserveRequest, type TapEvent, type TapRequest } from '../../core/api/tap';
import { encodeTapEvent } from '../../core/api/tap-wire';
import { Counter, Gauge, type Registry } from '../metrics/registry';
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

/** Hands grpc-js the proxy's certificate and trust anchors, and every rotation of them. */
class MaterialProvider implements CertificateProvider {
  private readonly ca = new Set<CaCertificateUpdateListener>();
  private readonly id = new Set<IdentityCertificateUpdateListener>();
  private material: TlsMaterial | undefined;

  set(m: TlsMaterial): void {
    this.material = m;
    for (const l of this.ca) l({ caCertificate: Buffer.from(m.trustAnchorsPem) });
    for (const l of this.id) l({ certificate: Buffer.from(m.certChainPem), privateKey: Buffer.from(m.keyPem) });
  }
  // grpc-js adds these listeners before the watcher that applies their updates to the server
  // (server.js createHttp2Server): the current material is handed over on the next tick, once
  // that watcher is in place, or the server would keep refusing every connection.
  addCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.add(l);
    process.nextTick(() => {
      if (this.material && this.ca.has(l)) l({ caCertificate: Buffer.from(this.material.trustAnchorsPem) });
    });
  }
  removeCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.delete(l);
  }
  addIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.id.add(l);
    process.nextTick(() => {
      if (this.material && this.id.has(l)) l({ certificate: Buffer.from(this.material.certChainPem), privateKey: Buffer.from(this.material.keyPem) });
    });
  }
  removeIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.id.delete(l);
  }
}

export class TapServer {
  private readonly provider = new MaterialProvider();
  private server: grpc.Server | undefined;
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
    this.provider.set(m);
    this.starting ??= this.listen();
    return this.starting;
  }

  private async listen(): Promise<void> {
    const server = new grpc.Server();
    // Events are written as typed objects and encoded by hand (tap-wire.ts): protobufjs' generic
    // serializer was the larger part of a tapped request's cost.
    const def = tapServiceDefinition();
    const service = { ...def, Observe: { ...def['Observe']!, responseSerialize: (e: TapEvent) => encodeTapEvent(e) } };
    server.addService(service as grpc.ServiceDefinition, { Observe: (call: grpc.ServerWritableStream<PbObserveRequest, TapEvent>) => this.observe(call) });
    const creds = grpc.experimental.createCertificateProviderServerCredentials(this.provider, this.provider, true);
    // TLS 1.3 only, as between proxies. grpc-js takes no such option for these credentials; each
    // certificate update becomes a secure context through updateSecureContextOptions, so the
    // version floor is added there (test/tap-loopback checks that a TLS 1.2 client is refused).
    const hooked = creds as unknown as { updateSecureContextOptions(o: SecureContextOptions | null): void };
    const update = hooked.updateSecureContextOptions.bind(creds);
    hooked.updateSecureContextOptions = (o) => update(o && { ...o, minVersion: 'TLSv1.3' });
    const { host, port } = this.opts.addr;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(where, creds, (err, port) => {
        if (err) reject(new LinnetError('LINNET_LISTEN_FAILED', `tap server could not listen on ${where}: ${err.message}`, { hint: 'free the port or set LINNET_PROXY_TAP_LISTEN_ADDR' }));
        else {
          this.port = port;
          resolve();
        }
      }),
    );
    this.server = server;
    this.opts.log.info('tap server listening', { addr: where, tap_identity: this.opts.svcName });
  }

  /** An event a lane reports for tap `id`. */
  deliver(id: number, e: TapEvent): void {
    this.sessions.get(id)?.offer(e);
  }

  close(): void {
    for (const id of [...this.sessions.keys()]) this.finish(id);
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private observe(call: grpc.ServerWritableStream<PbObserveRequest, TapEvent>): void {
    const peer = call.getAuthContext().sslPeerCertificate;
    const names = dnsSans(peer?.subjectaltname);
    if (!names.includes(this.opts.svcName)) {
      this.refused.inc({ reason: 'identity' });
      this.opts.log.info('tap refused: not the tap identity', { peer: names.join(',') || '(none)' });
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: `tap is allowed to ${this.opts.svcName} only; the client is ${names.join(', ') || 'unidentified'}` });
      return;
    }
    let req: TapRequest;
    try {
      req = observeFromPb(call.request);
    } catch (err) {
      this.refused.inc({ reason: 'match' });
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: err instanceof TapMatchError ? err.message : String(err) });
      return;
    }
    if (this.sessions.size >= MAX_TAPS) {
      this.refused.inc({ reason: 'too_many' });
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `this proxy already serves ${MAX_TAPS} taps` });
      return;
    }
    const id = this.nextId++;
    const maxRps = req.maxRps && req.maxRps > 0 ? Math.min(req.maxRps, this.opts.maxRps) : this.opts.maxRps;
    const session = new TapSession(
      { limit: req.limit, maxRps, buffer: this.opts.buffer, onDrop: this.dropped },
      {
        write: (e) => {
          this.sent.inc();
          return call.write(e);
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
    call.on('close', gone);
    call.on('error', gone);
    this.opts.lanes.open({ id, ...(req.match ? { match: req.match } : {}), limit: req.limit, maxRps });
    // Headers now, before any event: the client knows the tap is open (and traffic from here on is seen).
    call.sendMetadata(new grpc.Metadata());
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
