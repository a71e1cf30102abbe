/**
 * The outbound side's view of where a connection should go: one discovery watch and one
 * Peak-EWMA balancer per original destination, kept up to date by the watch. A destination
 * discovery does not know (or does not answer for in time) goes to the original destination.
 */
import { isIP } from 'node:net';
import { PeakEwmaBalancer } from './peak-ewma';
import type { DiscoveredEndpoint, DiscoveryClient, EndpointSet } from './discovery';
import type { Logger } from '../../core/log';

export type OutboundRoute =
  | { kind: 'original' }
  /**
   * `opaque`: every endpoint's port is marked opaque (protocol hint): no protocol detection.
   * `protocol`: the port declares HTTP/1 or HTTP/2 (appProtocol): no detection either.
   */
  | { kind: 'balanced'; balancer: PeakEwmaBalancer<DiscoveredEndpoint>; opaque: boolean; protocol?: 'http1' | 'h2' }
  /** Known destination, no endpoints right now. */
  | { kind: 'no-endpoints' };

interface Entry {
  set: EndpointSet;
  balancer: PeakEwmaBalancer<DiscoveredEndpoint>;
  lastUsed: number;
  /** Every endpoint carries the opaque protocol hint (kept with each update, not per request). */
  opaque: boolean;
  /** The balancer was filled from the set once; later changes arrive through 'update'. */
  synced: boolean;
}

const allOpaque = (eps: readonly DiscoveredEndpoint[]) => eps.length > 0 && eps.every((ep) => ep.hint === 'opaque');

export interface OutboundBalancersOptions {
  /** How long the first connection to a destination waits for discovery's first answer. */
  readyTimeoutMs: number;
  /** Destinations unused this long stop being watched (default 60 s). */
  idleMs?: number;
  log: Logger;
}

export class OutboundBalancers {
  private readonly entries = new Map<string, Entry>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly discovery: DiscoveryClient,
    private readonly opts: OutboundBalancersOptions,
  ) {
    const idle = opts.idleMs ?? 60_000;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, e] of this.entries) {
        if (now - e.lastUsed > idle) {
          e.set.release();
          this.entries.delete(k);
        }
      }
    }, Math.min(idle, 10_000));
    this.sweep.unref();
  }

  /** `host`: an IP (an original destination) or a name (ingress mode's logical destination). */
  async route(host: string, port: number): Promise<OutboundRoute> {
    const key = `${host}:${port}`;
    let e = this.entries.get(key);
    if (!e) {
      const set = this.discovery.resolve(isIP(host) ? { ip: host, port } : { authority: host, port });
      const balancer = new PeakEwmaBalancer<DiscoveredEndpoint>();
      const entry: Entry = { set, balancer, lastUsed: Date.now(), opaque: false, synced: false };
      const apply = (eps: DiscoveredEndpoint[]) => {
        balancer.update(eps.map((ep) => ({ key: ep.address, value: ep, weight: ep.weight })));
        entry.opaque = allOpaque(eps);
        this.opts.log.debug('endpoints updated', { target: key, endpoints: eps.map((x) => x.address).join(',') });
      };
      set.on('update', apply);
      this.entries.set(key, entry);
      e = entry;
    }
    e.lastUsed = Date.now();
    if (e.set.exists() === undefined) await e.set.ready(this.opts.readyTimeoutMs);
    if (!e.synced && e.set.exists() !== undefined) {
      // Once, after the first answer: a set shared with another holder may have had its endpoints
      // before our listener was attached. From then on 'update' keeps the balancer current, so the
      // per-request path copies nothing.
      e.synced = true;
      const eps = e.set.endpoints();
      e.balancer.update(eps.map((ep) => ({ key: ep.address, value: ep, weight: ep.weight })));
      e.opaque = allOpaque(eps);
    }
    if (e.set.exists() !== true) return { kind: 'original' };
    if (e.balancer.size === 0) return { kind: 'no-endpoints' };
    const protocol = e.set.protocol();
    return { kind: 'balanced', balancer: e.balancer, opaque: e.opaque, ...(protocol ? { protocol } : {}) };
  }

  close(): void {
    clearInterval(this.sweep);
    for (const e of this.entries.values()) e.set.release();
    this.entries.clear();
  }
}
