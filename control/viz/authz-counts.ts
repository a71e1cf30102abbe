/**
 * One proxy's authorization counters at one scrape, for `linnet viz authz`: the
 * `inbound_{http,tcp}_authz_{allow,deny}_total` series summed by (Server, route, authorization),
 * the other labels (target_addr, tls, client_id) added up, and the Server's inbound responses
 * (response_total and response_latency_ms carry srv_kind/srv_name under a policy). Pure, and kept
 * apart from snapshot.ts's types so that the snapshot can hold it without an import cycle.
 */
import type { Sample } from '../../core/prom-text';

/** Responses of one Server, as snapshot.ts's Counts. */
export interface ServerResponses {
  success: number;
  failure: number;
  /** cumulative response_latency_ms_bucket counts by upper bound (ms; Infinity for +Inf) */
  buckets: Map<number, number>;
}

export interface AuthzCounts {
  /** allowed requests (HTTP) or connections (TCP) by authzKey */
  allow: Map<string, number>;
  /** denied ones by authzKey (authorization empty) */
  deny: Map<string, number>;
  /** inbound responses by serverKey */
  responses: Map<string, ServerResponses>;
}

export interface AuthzKey {
  srvKind: string;
  srvName: string;
  /** `http` (a route) or `tcp` (a connection: no route) */
  proto: 'http' | 'tcp';
  routeKind: string;
  routeName: string;
  authzKind: string;
  authzName: string;
}

const SEP = '\u0000';

export const serverKey = (kind: string, name: string) => `${kind}${SEP}${name}`;

export function authzKey(k: AuthzKey): string {
  return [k.srvKind, k.srvName, k.proto, k.routeKind, k.routeName, k.authzKind, k.authzName].join(SEP);
}

export function parseAuthzKey(key: string): AuthzKey {
  const [srvKind = '', srvName = '', proto = 'http', routeKind = '', routeName = '', authzKind = '', authzName = ''] = key.split(SEP);
  return { srvKind, srvName, proto: proto === 'tcp' ? 'tcp' : 'http', routeKind, routeName, authzKind, authzName };
}

const COUNTERS: Record<string, { proto: 'http' | 'tcp'; allow: boolean }> = {
  inbound_http_authz_allow_total: { proto: 'http', allow: true },
  inbound_http_authz_deny_total: { proto: 'http', allow: false },
  inbound_tcp_authz_allow_total: { proto: 'tcp', allow: true },
  inbound_tcp_authz_deny_total: { proto: 'tcp', allow: false },
};

const add = <K>(m: Map<K, number>, k: K, v: number) => m.set(k, (m.get(k) ?? 0) + v);

function responsesOf(m: Map<string, ServerResponses>, k: string): ServerResponses {
  let r = m.get(k);
  if (!r) m.set(k, (r = { success: 0, failure: 0, buckets: new Map() }));
  return r;
}

export function authzCounts(samples: readonly Sample[]): AuthzCounts {
  const out: AuthzCounts = { allow: new Map(), deny: new Map(), responses: new Map() };
  for (const x of samples) {
    const l = x.labels;
    if (!Number.isFinite(x.value) || l.srv_kind === undefined || l.srv_name === undefined) continue;
    const c = COUNTERS[x.name];
    if (c) {
      const key = authzKey({
        srvKind: l.srv_kind,
        srvName: l.srv_name,
        proto: c.proto,
        routeKind: c.proto === 'http' ? (l.route_kind ?? '') : '',
        routeName: c.proto === 'http' ? (l.route_name ?? '') : '',
        authzKind: c.allow ? (l.authz_kind ?? '') : '',
        authzName: c.allow ? (l.authz_name ?? '') : '',
      });
      add(c.allow ? out.allow : out.deny, key, x.value);
      continue;
    }
    if (l.direction !== 'inbound') continue;
    if (x.name === 'response_total') {
      const r = responsesOf(out.responses, serverKey(l.srv_kind, l.srv_name));
      if (l.classification === 'success') r.success += x.value;
      else r.failure += x.value;
    } else if (x.name === 'response_latency_ms_bucket' && l.le !== undefined) {
      add(responsesOf(out.responses, serverKey(l.srv_kind, l.srv_name)).buckets, l.le === '+Inf' ? Infinity : Number(l.le), x.value);
    }
  }
  return out;
}
