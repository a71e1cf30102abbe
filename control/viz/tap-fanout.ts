/**
 * Tap through the viz service: one Observe per proxy of the tapped resource (tap-client.ts, on each
 * pod's 4190, with the viz service's tap identity), merged into one stream of events, each with the
 * pod names of its source and destination.
 */
import type { ProxyTarget } from './inventory';
import { observeTap, type ObservedTapEvent, type TapMatch } from './tap-client';
import type { TapCredentials } from './tap-identity';

export const TAP_PORT = 4190;

export interface NamedTapEvent extends ObservedTapEvent {
  srcName: string;
  dstName: string;
}

export interface FanOutOptions {
  targets: readonly ProxyTarget[];
  /** every known proxy, to name addresses */
  all: readonly ProxyTarget[];
  creds: TapCredentials;
  match?: TapMatch;
  maxRps?: number;
  limit?: number;
  signal: AbortSignal;
  onEvent(e: NamedTapEvent): void;
  onError(t: ProxyTarget, message: string): void;
  tapPort?: number;
}

/** Resolves when every proxy's stream has ended (its limit, an error, or the signal). */
export async function fanOut(o: FanOutOptions): Promise<void> {
  const byIp = new Map(o.all.map((t) => [t.ip, t.pod] as const));
  const name = (ip: string) => byIp.get(ip) ?? ip;
  await Promise.all(
    o.targets.map(async (t) => {
      if (!t.identity) return o.onError(t, `${t.pod} has no identity: tap needs a meshed proxy with mTLS`);
      const addr = t.ip.includes(':') ? `[${t.ip}]:${o.tapPort ?? TAP_PORT}` : `${t.ip}:${o.tapPort ?? TAP_PORT}`;
      const stream = observeTap(
        { addr, proxyIdentity: t.identity, certPem: o.creds.certPem, keyPem: o.creds.keyPem, trustAnchorsPem: o.creds.trustAnchorsPem },
        { ...(o.match ? { match: o.match } : {}), ...(o.limit ? { limit: o.limit } : {}), ...(o.maxRps ? { maxRps: o.maxRps } : {}), signal: o.signal },
      );
      try {
        for await (const e of stream) o.onEvent({ ...e, srcName: name(e.source.ip), dstName: name(e.destination.ip) });
      } catch (err) {
        o.onError(t, `${t.pod}: ${(err as { describe?: () => string }).describe?.() ?? String(err)}`);
      }
    }),
  );
}
