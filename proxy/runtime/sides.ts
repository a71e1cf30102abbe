/** The inbound and outbound sides as the configuration sets them up. */
import type { Side } from '../accept/context';
import type { ProxyConfig } from './config';

export function sideFor(config: ProxyConfig, direction: 'inbound' | 'outbound'): Side {
  const inbound = direction === 'inbound';
  return {
    direction,
    opaquePorts: inbound ? config.inboundOpaquePorts : config.outboundOpaquePorts,
    listenPort: (inbound ? config.inboundAddr : config.outboundAddr).port,
    detectTimeoutMs: config.detectTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    // As linkerd2-proxy labels plaintext: inbound peers did not offer TLS; the app and the local
    // target are reached over loopback; outbound targets have no identity from discovery (yet).
    srcNoTlsReason: inbound ? 'no_tls_from_remote' : 'loopback',
    dstNoTlsReason: inbound ? 'loopback' : 'not_provided_by_service_discovery',
  };
}
