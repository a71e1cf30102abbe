/**
 * A Service port's `appProtocol` → how the mesh treats that port (as Linkerd 2.18 reads it). Pure.
 * An opaque port is proxied without protocol detection in both directions: the client's proxy
 * forwards bytes at once (and to a meshed endpoint through opaque transport, so the server's proxy
 * skips detection too); that removes the detect-timeout stall on server-speaks-first protocols
 * without any opaque-ports annotation.
 */

/** http1 / h2 / websocket: the proxy still detects (client-first protocols answer at once). */
export type AppProtocolKind = 'http1' | 'h2' | 'websocket' | 'opaque';

const KNOWN: Readonly<Record<string, AppProtocolKind>> = {
  http: 'http1',
  'kubernetes.io/h2c': 'h2',
  'kubernetes.io/ws': 'websocket',
  'linkerd.io/opaque': 'opaque',
  'linnet.io/opaque': 'opaque',
};

/**
 * undefined when the port declares nothing; any value we do not know is opaque: a port that says
 * it speaks something other than HTTP is safest forwarded as bytes (`grpc`, `https`, `mysql`, ...).
 */
export function appProtocolKind(value: unknown): AppProtocolKind | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return KNOWN[value.trim()] ?? 'opaque';
}

/** The protocol a client's proxy may assume on the port without detecting it, if the port says. */
export function declaredHttp(kind: AppProtocolKind | undefined): 'http1' | 'h2' | undefined {
  return kind === 'http1' || kind === 'websocket' ? 'http1' : kind === 'h2' ? 'h2' : undefined;
}
