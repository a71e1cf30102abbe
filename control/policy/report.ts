/**
 * What `linnet authz` prints, pure: a compiled policy as lines (server, routes, who each
 * authorization lets in), the warnings `linnet check` would give about the resources (a Server
 * nothing authorizes, a policy whose target does not exist, identities that match no workload),
 * and a proxy's authorization counters as a table.
 */
import { formatNet } from '../../core/policy/net';
import { identityMatches, type Authz, type InboundPolicy } from '../../core/policy/model';
import type { PolicyIndex } from './compile';

function who(a: Authz): string {
  const nets = a.networks.map((n) => formatNet(n.net) + (n.except.length ? ` except ${n.except.map(formatNet).join(',')}` : '')).join(', ');
  const allNets = nets === '0.0.0.0/0, ::/0';
  const id =
    a.authn.kind === 'unauthenticated'
      ? 'anyone'
      : a.authn.suffixes.some((s) => s.length === 0)
        ? 'any meshed identity'
        : [...a.authn.identities, ...a.authn.suffixes.map((s) => `*.${s.join('.')}`)].join(', ') || 'nobody';
  return `${id}${allNets ? '' : ` from ${nets}`}`;
}

export function describePolicy(workload: string, port: number, p: InboundPolicy): string[] {
  const out = [`${workload}:${port}  ${p.server.kind}/${p.server.name}  protocol ${p.protocol}`];
  if (p.protocol === 'opaque' || p.protocol === 'tls' || p.routes.length === 0) {
    for (const a of p.authorizations) out.push(`  connections: ${a.kind}/${a.name}: ${who(a)}`);
    if (p.authorizations.length === 0) out.push('  connections: nobody');
  }
  if (p.protocol !== 'opaque' && p.protocol !== 'tls') {
    for (const r of p.routes) {
      out.push(`  route ${r.kind}/${r.name}${r.hosts.length ? ` hosts ${r.hosts.join(',')}` : ''}`);
      if (r.authorizations.length === 0) out.push('    nobody (403)');
      for (const a of r.authorizations) out.push(`    ${a.kind}/${a.name}: ${who(a)}`);
    }
  }
  if (p.rateLimit) out.push(`  rate limit ${p.rateLimit.name}: total ${p.rateLimit.total || '-'}/s, per identity ${p.rateLimit.identity || '-'}/s, ${p.rateLimit.overrides.length} override(s)`);
  return out;
}

/** Problems with the resources themselves; `identities`: the workloads' identities known. */
export function policyWarnings(index: PolicyIndex, identities: readonly string[] | undefined): string[] {
  const out: string[] = [];
  const ns = (r: { meta: { namespace: string; name: string } }) => `${r.meta.namespace}/${r.meta.name}`;
  const all = index.all;
  for (const s of all) {
    if (s.kind !== 'Server' || s.accessPolicy !== 'deny') continue;
    const routes = all.filter((r) => (r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute') && r.meta.namespace === s.meta.namespace && r.parents.some((p) => p.kind === 'Server' && p.name === s.meta.name));
    const authorized = all.some(
      (p) =>
        p.kind === 'AuthorizationPolicy' &&
        p.meta.namespace === s.meta.namespace &&
        ((p.target.kind === 'Server' && p.target.name === s.meta.name) || (p.target.kind === 'Namespace' && p.target.name === s.meta.namespace) || routes.some((r) => r.kind === p.target.kind && r.meta.name === p.target.name)),
    );
    if (!authorized) out.push(`Server ${ns(s)} denies everything: no AuthorizationPolicy targets it, its routes or its namespace, and its accessPolicy is deny`);
  }
  for (const p of all) {
    if (p.kind !== 'AuthorizationPolicy') continue;
    const t = p.target;
    const exists =
      t.kind === 'Namespace' ||
      all.some((r) => r.meta.namespace === t.namespace && r.meta.name === t.name && (r.kind === t.kind || (t.kind === 'Server' && r.kind === 'Server')));
    if (!exists) out.push(`AuthorizationPolicy ${ns(p)} targets ${t.kind} ${t.namespace}/${t.name}, which does not exist`);
    for (const ref of p.required) {
      if (ref.kind === 'ServiceAccount') continue;
      if (!all.some((r) => r.kind === ref.kind && r.meta.namespace === ref.namespace && r.meta.name === ref.name)) out.push(`AuthorizationPolicy ${ns(p)} requires ${ref.kind} ${ref.namespace}/${ref.name}, which does not exist: it authorizes nobody`);
    }
  }
  if (identities) {
    for (const m of all) {
      if (m.kind !== 'MeshTLSAuthentication') continue;
      for (const id of m.identities) {
        const authn = id === '*' ? { kind: 'meshTLS' as const, identities: [], suffixes: [[]] } : id.startsWith('*.') ? { kind: 'meshTLS' as const, identities: [], suffixes: [id.slice(2).split('.')] } : { kind: 'meshTLS' as const, identities: [id], suffixes: [] };
        if (!identities.some((w) => identityMatches(authn, w))) out.push(`MeshTLSAuthentication ${ns(m)}: identity ${id} matches no workload`);
      }
    }
  }
  return out;
}

/** A proxy's authorization counters (Prometheus text) as rows: server, route, authorization, allow, deny. */
export function authzRows(metricsText: string): { server: string; route: string; authz: string; allow: number; deny: number }[] {
  const rows = new Map<string, { server: string; route: string; authz: string; allow: number; deny: number }>();
  for (const line of metricsText.split('\n')) {
    const m = /^(inbound_(?:http|tcp)_authz_(allow|deny)_total|inbound_http_route_not_found_total)\{(.*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[3]!.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const server = `${labels['srv_kind']}/${labels['srv_name']}`;
    const route = m[1]!.startsWith('inbound_tcp') ? '(connections)' : m[1] === 'inbound_http_route_not_found_total' ? '(no route)' : `${labels['route_kind']}/${labels['route_name']}`;
    const authz = labels['authz_kind'] ? `${labels['authz_kind']}/${labels['authz_name']}` : '-';
    const key = `${server}\u0000${route}\u0000${authz}`;
    const row = rows.get(key) ?? { server, route, authz, allow: 0, deny: 0 };
    if (m[2] === 'allow') row.allow += Number(m[4]);
    else row.deny += Number(m[4]);
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => (a.server + a.route + a.authz < b.server + b.route + b.authz ? -1 : 1));
}
