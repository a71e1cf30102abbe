/**
 * Authorization and rate-limit counters with linkerd2-proxy's names and labels, so Linkerd's
 * dashboards and `linkerd viz authz` queries read them: `srv_kind`/`srv_name` (the Server, or
 * `default` and the default policy), `route_kind`/`route_name`, `authz_kind`/`authz_name`, and the
 * client's `tls`/`client_id`.
 */
import { Counter, type Registry } from './registry';

const SRV = ['target_addr', 'srv_kind', 'srv_name'];
const CLIENT = ['tls', 'client_id'];

export class AuthzMetrics {
  readonly httpAllow: Counter;
  readonly httpDeny: Counter;
  readonly routeNotFound: Counter;
  readonly tcpAllow: Counter;
  readonly tcpDeny: Counter;
  readonly tcpTerminate: Counter;
  readonly rateLimited: Counter;

  constructor(registry: Registry) {
    this.httpAllow = new Counter(registry, {
      name: 'inbound_http_authz_allow_total',
      help: 'Inbound HTTP requests allowed, by the authorization that allowed them',
      labelNames: [...SRV, 'route_kind', 'route_name', 'authz_kind', 'authz_name', ...CLIENT],
    });
    this.httpDeny = new Counter(registry, {
      name: 'inbound_http_authz_deny_total',
      help: 'Inbound HTTP requests denied (403, or gRPC PERMISSION_DENIED): no authorization of their route permits the client',
      labelNames: [...SRV, 'route_kind', 'route_name', ...CLIENT],
    });
    this.routeNotFound = new Counter(registry, {
      name: 'inbound_http_route_not_found_total',
      help: 'Inbound HTTP requests that matched no route of their Server (404)',
      labelNames: [...SRV],
    });
    this.tcpAllow = new Counter(registry, {
      name: 'inbound_tcp_authz_allow_total',
      help: 'Inbound TCP connections (opaque, TLS, undetected) allowed, by the authorization that allowed them',
      labelNames: [...SRV, 'authz_kind', 'authz_name', ...CLIENT],
    });
    this.tcpDeny = new Counter(registry, {
      name: 'inbound_tcp_authz_deny_total',
      help: 'Inbound TCP connections (opaque, TLS, undetected) refused: no authorization permits the client',
      labelNames: [...SRV, ...CLIENT],
    });
    this.tcpTerminate = new Counter(registry, {
      name: 'inbound_tcp_authz_terminate_total',
      help: 'Open inbound TCP connections closed because a policy change no longer allows them',
      labelNames: [...SRV, ...CLIENT],
    });
    this.rateLimited = new Counter(registry, {
      name: 'inbound_http_local_ratelimit_rejected_total',
      help: 'Inbound HTTP requests refused with 429 by an HTTPLocalRateLimitPolicy',
      labelNames: [...SRV, 'ratelimit_name', 'scope', ...CLIENT],
    });
  }
}
