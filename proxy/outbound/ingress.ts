/**
 * Ingress mode (Linkerd's): a meshed ingress controller sends its requests to pod IPs or to
 * addresses of its own choosing, so the original destination says little about the service
 * meant. In ingress mode the outbound side routes an HTTP request by its `l5d-dst-override`
 * header, else by its Host / :authority, through discovery. Pure: which logical destination a
 * request names.
 */
import { isIP } from 'node:net';

export const DST_OVERRIDE = 'l5d-dst-override';

export interface LogicalDestination {
  /** A DNS name (lower case, no trailing dot) or an IP literal. */
  host: string;
  port: number;
}

/**
 * The destination a request names: the override when present and well-formed, else the
 * authority; `defaultPort` when it has none (80 for plain HTTP). Undefined when neither is usable.
 */
export function logicalDestination(override: string | undefined, authority: string | undefined, defaultPort = 80): LogicalDestination | undefined {
  for (const v of [override, authority]) {
    const d = v === undefined ? undefined : parseAuthority(v.trim(), defaultPort);
    if (d) return d;
  }
  return undefined;
}

const NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function parseAuthority(a: string, defaultPort: number): LogicalDestination | undefined {
  if (a === '' || a.includes('@') || a.includes('/')) return undefined;
  let host: string;
  let portText: string | undefined;
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    if (end < 0) return undefined;
    host = a.slice(1, end).toLowerCase();
    const rest = a.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest ? rest.slice(1) : undefined;
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = a.lastIndexOf(':');
    host = colon >= 0 ? a.slice(0, colon) : a;
    portText = colon >= 0 ? a.slice(colon + 1) : undefined;
    host = host.toLowerCase().replace(/\.$/, '');
    if (isIP(host) === 0 && !NAME.test(host)) return undefined;
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port < 1 || port > 65535) return undefined;
  }
  return { host, port };
}
