/**
 * The client's view of one destination: a set of endpoints kept up to date by applying the
 * Destination API's updates. Pure (no sockets), so the update rules are unit-tested directly.
 *
 * Rules (from the API's contract): `add` inserts or replaces by address; `remove` deletes;
 * `no_endpoints` empties the set and records whether the destination exists. After a reconnect
 * the old endpoints are kept (stale but useful) until the first message of the new stream, which
 * carries the full state and so replaces them.
 */
import type { PbUpdate, PbWeightedAddr } from '../../../core/api/destination';
import { merged } from '../../../core/merged';

export interface DiscoveredEndpoint {
  /** `ip:port` or `[ipv6]:port`. */
  readonly address: string;
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  /** The set's labels merged with the endpoint's own. */
  readonly labels: Readonly<Record<string, string>>;
  /** The TLS identity to require of the endpoint; absent: unmeshed, plain text. */
  readonly identity?: string;
  readonly hint?: 'h2' | 'opaque';
  /** Connect to this port (the peer proxy's inbound) instead, inside mTLS. */
  readonly opaqueTransportPort?: number;
}

export function endpointAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function fromPb(a: PbWeightedAddr, setLabels: Record<string, string>): DiscoveredEndpoint {
  const ip = a.addr?.ip ?? '';
  const port = a.addr?.port ?? 0;
  const hint = a.protocol_hint?.protocol ?? (a.protocol_hint?.opaque ? 'opaque' : a.protocol_hint?.h2 ? 'h2' : undefined);
  const identity = a.tls_identity?.dns_like_identity?.name;
  const otp = a.protocol_hint?.opaque_transport?.inbound_port;
  return {
    address: endpointAddress(ip, port),
    ip,
    port,
    weight: a.weight || 0,
    labels: merged(setLabels, a.metric_labels ?? {}),
    ...(identity ? { identity } : {}),
    ...(hint ? { hint } : {}),
    ...(otp ? { opaqueTransportPort: otp } : {}),
  };
}

export class EndpointSetState {
  private readonly map = new Map<string, DiscoveredEndpoint>();
  /** undefined until the first message ever; then whether the destination is known. */
  exists: boolean | undefined;
  /** The port's declared protocol (the Service port's appProtocol), from the last add. */
  protocol: 'http1' | 'h2' | undefined;
  /** Set on reconnect: the next message replaces everything. */
  private replaceOnNext = false;

  endpoints(): DiscoveredEndpoint[] {
    return [...this.map.values()];
  }

  /** A new stream was opened: keep serving what we have until its first message. */
  markStale(): void {
    this.replaceOnNext = true;
  }

  /** Applies one update; returns whether the visible state changed. */
  apply(u: PbUpdate): boolean {
    const before = this.fingerprint();
    const kind = u.update ?? (u.add ? 'add' : u.remove ? 'remove' : u.no_endpoints ? 'no_endpoints' : undefined);
    if (this.replaceOnNext) {
      this.map.clear();
      this.replaceOnNext = false;
    }
    if (kind === 'add' && u.add) {
      const set = u.add.metric_labels ?? {};
      const p = u.add.protocol;
      this.protocol = p === 'http1' || p === 'h2' ? p : undefined;
      for (const a of u.add.addrs ?? []) {
        const e = fromPb(a, set);
        this.map.set(e.address, e);
      }
      this.exists = true;
    } else if (kind === 'remove' && u.remove) {
      for (const a of u.remove.addrs ?? []) this.map.delete(endpointAddress(a.ip, a.port));
    } else if (kind === 'no_endpoints' && u.no_endpoints) {
      this.map.clear();
      this.exists = Boolean(u.no_endpoints.exists);
    }
    return this.fingerprint() !== before;
  }

  private fingerprint(): string {
    return JSON.stringify([this.exists, this.protocol, [...this.map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))]);
  }
}
