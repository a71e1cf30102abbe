/**
 * Counters of what mTLS between proxies refused or failed: plaintext refused on ports that
 * require mTLS, and handshakes that failed either way.
 */
import { Counter, type Registry } from './registry';

export class MeshMetrics {
  readonly plaintextRefused: Counter;
  readonly handshakeErrors: Counter;

  constructor(registry: Registry) {
    this.plaintextRefused = new Counter(registry, {
      name: 'inbound_plaintext_refused_total',
      help: 'Inbound connections closed because their port requires mTLS and they did not offer it',
      labelNames: ['target_addr', 'reason'],
    });
    this.handshakeErrors = new Counter(registry, {
      name: 'tls_handshake_errors_total',
      help: 'mTLS handshakes between proxies that failed (bad or missing client certificate, wrong identity, timeout)',
      labelNames: ['direction', 'target_addr', 'errno'],
    });
  }
}
