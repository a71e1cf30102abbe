/**
 * From resources to the outbound policy of one Service port, as Linkerd's policy controller
 * computes it for OutboundPolicies: the HTTPRoutes and GRPCRoutes whose parentRefs name the
 * Service (and the port, or no port), ordered oldest first then by namespace/name; each rule's
 * backends as Service authorities; retries and timeouts from the route's annotations over the
 * Service's (a rule's Gateway API timeouts over both); failure accrual and the retry budget from
 * the Service's. Pure.
 */
import { overlay, type RouteSettings } from '../../core/route/annotations';
import { DEFAULT_BUDGET, orderRoutes, type OutboundPolicy, type OutboundRoute, type ResourceRef } from '../../core/route/model';
import type { PolicyIndex } from './compile';
import type { RouteRes } from './resources';

/** A Service port that is the parent of routes. */
export interface ServiceParent {
  namespace: string;
  name: string;
  port: number;
}

/** `name.ns.svc.<domain>` → its Service, or undefined for a name that is not a Service's. */
export function serviceOfHost(host: string): { namespace: string; name: string } | undefined {
  const p = host.toLowerCase().split('.');
  return p.length >= 3 && p[2] === 'svc' && p[0] && p[1] ? { name: p[0], namespace: p[1] } : undefined;
}

export const serviceAuthority = (s: { namespace: string; name: string; port: number }, clusterDomain: string) => `${s.name}.${s.namespace}.svc.${clusterDomain}:${s.port}`;

const isServiceRef = (r: { group: string; kind: string }) => r.kind === 'Service' && (r.group === '' || r.group === 'core');

/** Whether a route names this Service port as a parent. */
export function routeAttaches(r: RouteRes, s: ServiceParent): boolean {
  return r.parents.some((p) => isServiceRef(p) && p.name === s.name && p.namespace === s.namespace && (p.port === undefined || p.port === s.port));
}

export function compileOutbound(index: PolicyIndex, s: ServiceParent, clusterDomain: string): OutboundPolicy {
  const svc = index.find({ group: '', kind: 'Service', namespace: s.namespace, name: s.name }, 'Service');
  const svcSettings: RouteSettings = svc?.settings ?? { timeouts: {} };
  const routes: OutboundRoute[] = [];
  for (const r of index.all) {
    if ((r.kind !== 'HTTPRoute' && r.kind !== 'GRPCRoute') || !routeAttaches(r, s)) continue;
    const eff = overlay(svcSettings, r.settings);
    routes.push({
      ref: { group: r.group, kind: r.kind, namespace: r.meta.namespace, name: r.meta.name, port: 0 },
      created: r.meta.created,
      hosts: r.hostnames,
      grpc: r.kind === 'GRPCRoute',
      rules: r.rules.map((rule) => ({
        http: rule.http,
        grpc: rule.grpc,
        filters: rule.filters,
        backends: rule.backends.map((b) => ({
          ref: { group: 'core', kind: 'Service', namespace: b.namespace, name: b.name, port: b.port },
          authority: serviceAuthority(b, clusterDomain),
          weight: b.weight,
          ...(b.filters.length > 0 ? { filters: b.filters } : {}),
        })),
        timeouts: { ...eff.timeouts, ...rule.timeouts },
        ...(eff.retry ? { retry: eff.retry } : {}),
      })),
    });
  }
  const parent: ResourceRef = { group: 'core', kind: 'Service', namespace: s.namespace, name: s.name, port: s.port };
  return {
    parent,
    authority: serviceAuthority(s, clusterDomain),
    routes: orderRoutes(routes),
    defaults: { timeouts: svcSettings.timeouts, ...(svcSettings.retry ? { retry: svcSettings.retry } : {}) },
    ...(svcSettings.failureAccrual ? { failureAccrual: svcSettings.failureAccrual } : {}),
    budget: svcSettings.budget ?? DEFAULT_BUDGET,
  };
}
