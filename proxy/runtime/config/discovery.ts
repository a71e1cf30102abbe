/**
 * Where the Destination service is (LINNET_PROXY_DESTINATION_SVC_ADDR): a DNS name or an IP, with
 * a port. A bad value throws ConfigError naming the variable and the accepted form.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../../../core/errors';

export interface DiscoveryConfig {
  /** host:port of the control plane's Destination service; undefined: no discovery, the
   * outbound side forwards to the original destination. */
  readonly destinationAddr: string | undefined;
}

const VAR = 'LINNET_PROXY_DESTINATION_SVC_ADDR';
const FORM = 'HOST:PORT, where HOST is a DNS name or an IP ([...] for IPv6), e.g. linnet-dst.linnet.svc.cluster.local:8086 or 10.0.0.2:8086';
const HOST_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.?$/;

export function parseDiscoveryEnv(env: NodeJS.ProcessEnv = process.env): DiscoveryConfig {
  const raw = env[VAR];
  if (raw === undefined || raw.trim() === '') return Object.freeze({ destinationAddr: undefined });
  const t = raw.trim();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([^:[\]]+):(\d{1,5})$/.exec(t);
  if (!m) throw new ConfigError(VAR, raw, FORM);
  const host = m[1]!;
  const port = Number(m[2]);
  const bracketed = t.startsWith('[');
  if (port < 1 || port > 65535) throw new ConfigError(VAR, raw, FORM);
  if (bracketed ? isIP(host) !== 6 : !(isIP(host) === 4 || (HOST_RE.test(host) && !/^[\d.]+$/.test(host)))) throw new ConfigError(VAR, raw, FORM);
  return Object.freeze({ destinationAddr: t });
}
