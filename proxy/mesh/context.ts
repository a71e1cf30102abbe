/**
 * What a worker knows about the mesh, handed to every connection: its TLS material (when identity
 * is configured), the outbound balancers over discovery (when a destination service is
 * configured), the inbound ports that require mTLS, and the mesh metrics.
 */
import { Counter, type Registry } from 'prom-client';
import type { TlsStore } from '../tls/store';
import type { OutboundBalancers } from './outbound-balancers';

export interface MeshContext {
  tls: TlsStore | undefined;
  balancers: OutboundBalancers | undefined;
  requireTlsPorts: ReadonlySet<number>;
  /** Ingress mode: outbound HTTP is routed by the request's logical destination (proxy/mesh/ingress.ts). */
  ingressMode?: boolean;
  metrics: MeshMetrics;
}

/** The TLS labels of one side of a connection, as linkerd2-proxy writes them. */
export type TlsLabels = { tls: 'true'; client_id?: string; server_id?: string } | { tls: 'no_identity'; no_tls_reason: string };

export class MeshMetrics {
  readonly plaintextRefused: Counter;
  readonly handshakeErrors: Counter;

  constructor(registry: Registry) {
    this.plaintextRefused = new Counter({
      name: 'inbound_plaintext_refused_total',
      help: 'Inbound connections closed because their port requires mTLS and they did not offer it',
      labelNames: ['target_addr', 'reason'],
      registers: [registry],
    });
    this.handshakeErrors = new Counter({
      name: 'tls_handshake_errors_total',
      help: 'mTLS handshakes between proxies that failed (bad or missing client certificate, wrong identity, timeout)',
      labelNames: ['direction', 'target_addr', 'errno'],
      registers: [registry],
    });
  }
}
