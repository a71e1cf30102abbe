/**
 * Counters of what mTLS between proxies refused or failed: plaintext refused on ports that
 * require mTLS, and handshakes that failed either way.
 */
import { Counter, type Registry } from 'prom-client';

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
