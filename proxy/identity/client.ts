/**
 * The proxy's identity client. At start it makes its own ECDSA P-256 key (the key never leaves
 * the process) and a CSR for its identity, then asks the identity service to certify it,
 * verifies the answer against the trust anchors, and keeps the result current:
 * - `current()` is the latest {key, chain, expiry}; `on('rotated', m)` fires at every new one;
 * - renewal runs at 70% of the remaining lifetime (clamped to min/max refresh);
 * - when the control plane is unreachable the current certificate stays in use and certify is
 *   retried with exponential backoff and jitter, until it succeeds.
 */
import { KeyObject, X509Certificate, webcrypto } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from '../metrics/registry';
import { ecdsaCsr } from '../../core/csr';
import { derToPem, pemCertificates } from '../../core/pem';
import { CONTROL_PLANE_H2, grpcApi } from '../protocol/grpc/api';
import { unaryCall } from '../protocol/grpc/call';
import { GrpcChannel } from '../protocol/grpc/channel';
import { grpcStatusName } from '../protocol/h2/grpc-status';
import type { CertifyResponseMsg } from '../../core/api/identity';
import { LinnetError } from '../../core/errors';
import { createLogger, type Logger } from '../../core/log';
import { verifyChain } from './chain';
import { backoffDelay, refreshIn, DEFAULT_BACKOFF, type BackoffPolicy } from './schedule';

/** What the TLS layer needs to serve and present this proxy's identity. */
export interface IdentityMaterial {
  localName: string;
  /** PKCS#8 PEM private key. */
  keyPem: string;
  /** Leaf then intermediates, PEM (for tls `cert`). */
  certChainPem: string;
  /** Trust anchors, PEM (for tls `ca`). */
  trustAnchorsPem: string;
  leafDer: Buffer;
  intermediatesDer: Buffer[];
  notBefore: Date;
  notAfter: Date;
}

export interface IdentityClientOptions {
  /** Identity service `host:port`. */
  svcAddr: string;
  /**
   * The identity service's own identity. Set: TLS, its certificate must chain to the trust
   * anchors and name this. Unset: plaintext (only where the network is trusted).
   */
  svcName?: string;
  localName: string;
  tokenFile: string;
  trustAnchorsPem: string;
  minRefreshMs?: number;
  maxRefreshMs?: number;
  backoff?: BackoffPolicy;
  /** Per-call deadline; default 10s. */
  callTimeoutMs?: number;
  /** Gets the `identity_cert_expiration_timestamp_seconds` gauge. */
  registry?: Registry;
  log?: Logger;
}

export class IdentityClientError extends LinnetError {
  constructor(message: string, cause?: unknown) {
    super('LINNET_IDENTITY_CERTIFY_FAILED', message, {
      hint: 'check LINNET_PROXY_IDENTITY_SVC_ADDR, the token file and that the identity service is running',
      cause,
    });
    this.name = 'IdentityClientError';
  }
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IdentityClient extends EventEmitter {
  /** The current material, or undefined before the first certificate. */
  current(): IdentityMaterial | undefined;
  /** Resolves with the first material (at once if there is one already). */
  ready(): Promise<IdentityMaterial>;
  /** Stops renewing and closes the channel; current() keeps the last material. */
  close(): void;
  on(event: 'rotated', listener: (m: IdentityMaterial) => void): this;
  on(event: 'certify-failed', listener: (err: LinnetError, attempt: number) => void): this;
}

class Client extends EventEmitter implements IdentityClient {
  private material: IdentityMaterial | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attempt = 0;
  private anchors: X509Certificate[];
  private anchorsPem: string;
  private grpcChannel: GrpcChannel;
  private readonly log: Logger;
  private readonly gauge: Gauge | undefined;
  private readonly refreshes: Counter | undefined;
  private readonly expired: Gauge | undefined;
  private readonly anchorGauge: Gauge | undefined;
  private readonly registry: Registry | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private lastFailure: string | undefined;
  private waiters: { resolve: (m: IdentityMaterial) => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly opts: IdentityClientOptions) {
    super();
    this.anchors = pemCertificates(opts.trustAnchorsPem).map((d) => new X509Certificate(d));
    this.anchorsPem = opts.trustAnchorsPem;
    this.grpcChannel = this.channel();
    this.log = opts.log ?? createLogger('info', 'identity');
    this.registry = opts.registry;
    const r = opts.registry;
    this.gauge = r ? new Gauge(r, { name: 'identity_cert_expiration_timestamp_seconds', help: "When this proxy's identity certificate expires, in seconds since the Unix epoch" }) : undefined;
    this.refreshes = r ? new Counter(r, { name: 'identity_cert_refresh_total', help: 'Certify calls, by result (ok: a new certificate; failure: kept the old one, retrying with backoff)', labelNames: ['result'] }) : undefined;
    this.expired = r ? new Gauge(r, { name: 'identity_cert_expired', help: '1 while this proxy holds only an expired certificate (the identity service unreachable): new mTLS connections fail' }) : undefined;
    this.anchorGauge = r
      ? new Gauge(r, { name: 'identity_trust_anchor_expiration_timestamp_seconds', help: 'The trust anchors this proxy verifies peers with (sha256 fingerprint prefix), by expiry', labelNames: ['sha256'] })
      : undefined;
    this.publishAnchors();
  }

  /** The channel to the identity service; made again when the anchors change (TLS verifies with them). */
  private channel(): GrpcChannel {
    // With svcName the TLS handshake checks the server's SAN against it and its chain against our anchors.
    const tls = this.opts.svcName ? { tls: { ca: this.anchorsPem, servername: this.opts.svcName } } : {};
    return new GrpcChannel({ address: this.opts.svcAddr, settings: CONTROL_PLANE_H2, ...tls, ...(this.opts.log ? { log: this.opts.log } : {}) });
  }

  private publishAnchors(): void {
    if (!this.anchorGauge) return;
    this.anchorGauge.reset();
    for (const a of this.anchors) this.anchorGauge.set({ sha256: a.fingerprint256.replace(/:/g, '').toLowerCase().slice(0, 16) }, Math.floor(new Date(a.validTo).getTime() / 1000));
  }

  /**
   * An expired certificate with no control plane to renew it: said loudly, once a minute, and in
   * a gauge. /ready stays up (established connections keep working; only new handshakes fail).
   */
  private watchExpiry(): void {
    clearInterval(this.expiryTimer);
    const check = () => {
      const m = this.material;
      if (!m || this.closed) return;
      const over = Date.now() >= m.notAfter.getTime();
      this.expired?.set(undefined, over ? 1 : 0);
      if (over) {
        this.log.error('identity certificate EXPIRED and not renewed: peers refuse new mTLS connections until the identity service answers', {
          expired_at: m.notAfter.toISOString(),
          last_error: this.lastFailure ?? 'none',
          attempts: this.attempt,
        });
      }
    };
    const first = setTimeout(() => {
      check();
      this.expiryTimer = setInterval(check, 60_000);
      this.expiryTimer.unref();
    }, Math.max(0, (this.material?.notAfter.getTime() ?? 0) - Date.now()) + 50);
    first.unref();
    this.expiryTimer = first;
  }

  current(): IdentityMaterial | undefined {
    return this.material;
  }

  ready(): Promise<IdentityMaterial> {
    if (this.material) return Promise.resolve(this.material);
    if (this.closed) return Promise.reject(new IdentityClientError('the identity client is closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.expiryTimer);
    this.grpcChannel.close();
    if (this.registry) {
      for (const n of ['identity_cert_expiration_timestamp_seconds', 'identity_cert_refresh_total', 'identity_cert_expired', 'identity_trust_anchor_expiration_timestamp_seconds']) this.registry.remove(n);
    }
    for (const w of this.waiters.splice(0)) w.reject(new IdentityClientError('the identity client closed before a certificate arrived'));
  }

  /** Makes the key and CSR once; the same key is re-certified at every renewal, as Linkerd does. */
  async start(): Promise<void> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const keyPem = derToPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
    const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    const csrDer = ecdsaCsr(this.opts.localName, KeyObject.from(keys.privateKey), spki);
    const cycle = async (): Promise<void> => {
      if (this.closed) return;
      let next: number;
      try {
        const m = await this.certify(csrDer, keyPem, spki);
        if (this.closed) return;
        this.material = m;
        this.attempt = 0;
        this.lastFailure = undefined;
        this.gauge?.set(undefined, m.notAfter.getTime() / 1000);
        this.refreshes?.inc({ result: 'ok' });
        this.expired?.set(undefined, 0);
        this.watchExpiry();
        next = refreshIn(m.notAfter.getTime(), Date.now(), this.opts.minRefreshMs ?? 10_000, this.opts.maxRefreshMs ?? 86_400_000);
        this.log.info('certified', { identity: m.localName, valid_until: m.notAfter.toISOString(), renew_in_ms: next });
        for (const w of this.waiters.splice(0)) w.resolve(m);
        this.emit('rotated', m);
      } catch (err) {
        if (this.closed) return;
        const e = err instanceof LinnetError ? err : new IdentityClientError(String((err as Error)?.message ?? err), err);
        // Jittered: proxies that lost the control plane together must not return in one burst.
        next = backoffDelay(this.attempt, this.opts.backoff ?? DEFAULT_BACKOFF);
        this.attempt++;
        this.lastFailure = e.describe();
        this.refreshes?.inc({ result: 'failure' });
        const keeping = this.material ? ` keeping the certificate valid until ${this.material.notAfter.toISOString()}` : ' no certificate yet';
        this.log.warn(`certify failed;${keeping}`, { error: e.describe(), attempt: this.attempt, retry_in_ms: next });
        this.emit('certify-failed', e, this.attempt);
      }
      this.timer = setTimeout(() => void cycle(), next);
    };
    await cycle();
  }

  private async certify(csrDer: Buffer, keyPem: string, spki: Buffer): Promise<IdentityMaterial> {
    let token: string;
    try {
      token = (await readFile(this.opts.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new IdentityClientError(`cannot read the token file ${this.opts.tokenFile}: ${(err as Error).message}`, err);
    }
    const api = grpcApi('identity.proto');
    let res: CertifyResponseMsg;
    try {
      res = (await unaryCall(
        this.grpcChannel,
        api.codec,
        api.method('io.linnet.proxy.identity.Identity', 'Certify'),
        { identity: this.opts.localName, token: Buffer.from(token), certificate_signing_request: csrDer },
        this.opts.callTimeoutMs ?? 10_000,
      )) as unknown as CertifyResponseMsg;
    } catch (err) {
      const e = err as { code: number; details: string };
      throw new IdentityClientError(`Certify: ${grpcStatusName(e.code)}: ${e.details}`, err);
    }
    const verify = (anchors: X509Certificate[]) =>
      verifyChain({
        leafDer: res.leaf_certificate,
        intermediatesDer: res.intermediate_certificates,
        anchors,
        localName: this.opts.localName,
        publicKeySpki: spki,
        now: Date.now(),
      });
    // The leaf must chain to an anchor we already trust: the control plane cannot swap in a
    // foreign root. Then the bundle sent with it becomes ours (anchor rotation, without a
    // restart) provided it trusts that same leaf; a CA that sends none leaves our anchors as they are.
    const chain = verify(this.anchors);
    const sent = (res.trust_anchors ?? []).map((d) => new X509Certificate(Buffer.from(d)));
    if (sent.length > 0) {
      try {
        verify(sent);
      } catch (err) {
        throw new IdentityClientError(`the trust bundle sent with the certificate does not hold the anchor the certificate chains to: ${(err as Error).message}`, err);
      }
      const fp = (xs: X509Certificate[]) => xs.map((x) => x.fingerprint256).sort().join(',');
      if (fp(sent) !== fp(this.anchors)) {
        const added = sent.filter((a) => !this.anchors.some((b) => b.fingerprint256 === a.fingerprint256)).length;
        const removed = this.anchors.filter((a) => !sent.some((b) => b.fingerprint256 === a.fingerprint256)).length;
        this.anchors = sent;
        this.anchorsPem = sent.map((a) => a.toString()).join('');
        this.publishAnchors();
        this.log.info('trust bundle updated from the identity service', { anchors: sent.length, added, removed });
        // The channel's TLS verifies the identity service with the anchors: use the new ones.
        if (this.opts.svcName) {
          const old = this.grpcChannel;
          this.grpcChannel = this.channel();
          old.close();
        }
      }
    }
    return {
      localName: this.opts.localName,
      keyPem,
      certChainPem: [res.leaf_certificate, ...res.intermediate_certificates].map((d) => derToPem(d)).join(''),
      trustAnchorsPem: this.anchorsPem,
      leafDer: Buffer.from(res.leaf_certificate),
      intermediatesDer: res.intermediate_certificates.map((d) => Buffer.from(d)),
      notBefore: chain.notBefore,
      notAfter: chain.notAfter,
    };
  }
}

/**
 * Creates the client and starts certifying at once (key generation, then the first Certify,
 * retried until it succeeds). Await `ready()` before serving mTLS.
 */
export function createIdentityClient(opts: IdentityClientOptions): IdentityClient {
  const client = new Client(opts);
  client.start().catch((err) => {
    // Only key or CSR generation can fail here (certify failures are retried inside).
    (opts.log ?? createLogger('info', 'identity')).error('identity client failed to start', { error: String(err) });
    client.close();
  });
  return client;
}
