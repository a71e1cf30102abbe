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
  /** The answer while the set exists and has endpoints, made again only when that changes. */
  balanced?: OutboundRoute;
}

const ORIGINAL: OutboundRoute = Object.freeze({ kind: 'original' });
const NO_ENDPOINTS: OutboundRoute = Object.freeze({ kind: 'no-endpoints' });

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

  /**
   * `host`: an IP (an original destination) or a name (ingress mode's logical destination).
   * Synchronous once discovery has answered for it: every request asks.
   */
  /** `key`: `host:port` when the caller has it already (no string built per request). */
  route(host: string, port: number, key = `${host}:${port}`): OutboundRoute | Promise<OutboundRoute> {
    const e = this.entries.get(key) ?? this.watch(key, host, port);
    e.lastUsed = Date.now();
    if (e.set.exists() === undefined) return e.set.ready(this.opts.readyTimeoutMs).then(() => this.answer(e));
    return this.answer(e);
  }

  private watch(key: string, host: string, port: number): Entry {
    const set = this.discovery.resolve(isIP(host) ? { ip: host, port } : { authority: host, port });
    const balancer = new PeakEwmaBalancer<DiscoveredEndpoint>();
    const entry: Entry = { set, balancer, lastUsed: Date.now(), opaque: false, synced: false };
    set.on('update', (eps: DiscoveredEndpoint[]) => {
      balancer.update(eps.map((ep) => ({ key: ep.address, value: ep, weight: ep.weight })));
      entry.opaque = allOpaque(eps);
      entry.balanced = undefined;
      this.opts.log.debug('endpoints updated', { target: key, endpoints: eps.map((x) => x.address).join(',') });
    });
    this.entries.set(key, entry);
    return entry;
  }

  private answer(e: Entry): OutboundRoute {
    if (!e.synced && e.set.exists() !== undefined) {
      // Once, after the first answer: a set shared with another holder may have had its endpoints
      // before our listener was attached. From then on 'update' keeps the balancer current, so the
      // per-request path copies nothing.
      e.synced = true;
      const eps = e.set.endpoints();
      e.balancer.update(eps.map((ep) => ({ key: ep.address, value: ep, weight: ep.weight })));
      e.opaque = allOpaque(eps);
      e.balanced = undefined;
    }
    if (e.set.exists() !== true) return ORIGINAL;
    if (e.balancer.size === 0) return NO_ENDPOINTS;
    const protocol = e.set.protocol();
    const b = e.balanced;
    // Kept while what it says holds (the endpoints' hints and the port's protocol can change).
    if (b?.kind === 'balanced' && b.opaque === e.opaque && b.protocol === protocol) return b;
    return (e.balanced = { kind: 'balanced', balancer: e.balancer, opaque: e.opaque, ...(protocol ? { protocol } : {}) });
  }

  close(): void {
    clearInterval(this.sweep);
    for (const e of this.entries.values()) e.set.release();
    this.entries.clear();
  }
}
