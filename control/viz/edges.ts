/**
 * `linnet viz edges`: who talks to whom, and whether over mTLS with the expected identities. An
 * edge comes from the source proxy's outbound connections (tcp_open_total{peer="dst"}: target
 * address, tls, server_id), the destination named by the target's IP (the inventory) or its
 * dst_* labels; and from the destination's inbound connections (client_id) when the source's own
 * proxy is not scraped. Secured (√) when every connection was mTLS and the server's identity is
 * the one the destination workload has. Pure.
 */
import type { ProxyTarget } from './inventory';
import type { TargetWindow } from './stat';

export interface EdgeRow {
  src: string;
  dst: string;
  srcNs: string;
  dstNs: string;
  secured: boolean;
  /** why not secured, or how it was seen */
  msg: string;
  clientId?: string;
  serverId?: string;
  /** connections opened over the proxies' lifetime */
  connections: number;
}

export function edgeRows(kind: 'deploy' | 'pod', windows: readonly TargetWindow[]): EdgeRow[] {
  const name = (t: ProxyTarget) => (kind === 'deploy' ? t.workload : t.pod);
  const byIp = new Map(windows.map((w) => [w.target.ip, w.target] as const));
  const byIdentity = new Map<string, ProxyTarget>();
  for (const w of windows) if (w.target.identity) byIdentity.set(w.target.identity, w.target);
  const edges = new Map<string, EdgeRow>();
  for (const w of windows) {
    const src = w.target;
    if (!w.cur) continue;
    for (const [ip, conns] of w.cur.connsOut) {
      const dstT = byIp.get(ip);
      const labels = w.cur.dstLabels.get(ip) ?? {};
      const dstName = dstT ? name(dstT) : kind === 'deploy' ? labels['dst_deployment'] : labels['dst_pod'];
      if (!dstName) continue; // not a proxy we know: Linkerd's edges show meshed peers only
      const dstNs = dstT?.namespace ?? labels['dst_namespace'] ?? '-';
      const key = `${name(src)}\0${dstName}`;
      const tlsTotal = [...conns.tls.values()].reduce((a, b) => a + b, 0);
      const plainTotal = [...conns.plain.values()].reduce((a, b) => a + b, 0);
      if (tlsTotal + plainTotal === 0) continue;
      const serverIds = [...conns.tls.keys()].filter((k) => (conns.tls.get(k) ?? 0) > 0);
      const expected = dstT?.identity;
      let secured = plainTotal === 0 && tlsTotal > 0;
      let msg = '';
      if (plainTotal > 0) msg = `plaintext: ${[...conns.plain.keys()].join(', ') || 'no identity'}`;
      else if (expected && serverIds.some((s) => s !== expected)) {
        secured = false;
        msg = `server identity ${serverIds.filter((s) => s !== expected).join(', ')} is not ${expected}`;
      } else if (serverIds.length === 0 || serverIds.includes('')) {
        secured = false;
        msg = 'TLS without a server identity';
      }
      const had = edges.get(key);
      const row: EdgeRow = {
        src: name(src),
        dst: dstName,
        srcNs: src.namespace,
        dstNs,
        secured: (had?.secured ?? true) && secured,
        msg: had?.msg || msg,
        ...(src.identity ? { clientId: src.identity } : {}),
        ...(serverIds[0] ? { serverId: serverIds[0] } : {}),
        connections: (had?.connections ?? 0) + tlsTotal + plainTotal,
      };
      edges.set(key, row);
    }
  }
  // Clients whose proxies are not scraped, seen by the destination's inbound side.
  for (const w of windows) {
    if (!w.cur) continue;
    for (const [clientId, n] of w.cur.connsIn) {
      const srcT = byIdentity.get(clientId);
      if (!srcT || n <= 0) continue;
      const key = `${name(srcT)}\0${name(w.target)}`;
      if (edges.has(key) || windows.some((x) => x.target === srcT && x.cur)) continue;
      edges.set(key, {
        src: name(srcT),
        dst: name(w.target),
        srcNs: srcT.namespace,
        dstNs: w.target.namespace,
        secured: true,
        msg: 'seen by the destination (client_id)',
        clientId,
        ...(w.target.identity ? { serverId: w.target.identity } : {}),
        connections: n,
      });
    }
  }
  return [...edges.values()].sort((a, b) => a.src.localeCompare(b.src) || a.dst.localeCompare(b.dst));
}
