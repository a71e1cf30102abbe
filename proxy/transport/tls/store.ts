/**
 * A worker's TLS material: the proxy's key, certificate chain and trust anchors as the main
 * thread's identity client last sent them, turned into the two secure contexts every mTLS
 * handshake uses. A rotation swaps the contexts; handshakes already done keep their session, new
 * ones use the new certificate, so no connection is dropped for it.
 */
import { createSecureContext, type SecureContext } from 'node:tls';

/** What the main thread posts to workers (the PEM parts of proxy/identity's IdentityMaterial). */
export interface TlsMaterial {
  localName: string;
  keyPem: string;
  certChainPem: string;
  trustAnchorsPem: string;
  /** Milliseconds since the epoch. */
  notAfter: number;
}

export class TlsStore {
  private material: TlsMaterial | undefined;
  private client: SecureContext | undefined;
  private server: SecureContext | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly localName: string) {}

  set(m: TlsMaterial): void {
    const opts = { key: m.keyPem, cert: m.certChainPem, ca: m.trustAnchorsPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
    this.client = createSecureContext(opts);
    this.server = createSecureContext(opts);
    this.material = m;
    for (const w of this.waiters.splice(0)) w();
  }

  current(): TlsMaterial | undefined {
    return this.material;
  }

  clientContext(): SecureContext | undefined {
    return this.client;
  }

  serverContext(): SecureContext | undefined {
    return this.server;
  }

  /** Resolves true once material is in hand, false after `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.material) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}
