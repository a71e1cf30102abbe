/**
 * Linkerd's policy resources as Linnet reads them: Server, AuthorizationPolicy,
 * MeshTLSAuthentication, NetworkAuthentication, HTTPRoute and GRPCRoute (policy.linkerd.io and
 * gateway.networking.k8s.io) and HTTPLocalRateLimitPolicy, from the same YAML or JSON objects
 * Kubernetes stores, so manifests carry over unchanged. Pure: an object in, a typed resource
 * out, or every problem listed with its path (`spec.port: ...`).
 */
import { LinnetError } from '../../core/errors';
import { netContains, parseNet, type IpNet } from '../../core/policy/net';
import { isDefaultPolicy, type DefaultPolicy, type GrpcMatch, type HeaderMatch, type HttpMatch, type ProxyProtocol, type StringMatch } from '../../core/policy/model';
import { readRouteAnnotations, type RouteSettings } from '../../core/route/annotations';
import { parseRuleOutbound, type RuleOutbound } from './route-rules';
import { parseSelector, type LabelSelector } from './selector';

export class PolicyResourceError extends LinnetError {
  readonly problems: readonly string[];
  constructor(where: string, problems: string[]) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
    super('LINNET_POLICY_RESOURCE_INVALID', `${where} is not a valid policy resource:\n  ${shown.join('\n  ')}${more}`, {
      hint: 'fix the listed fields; the resources are Linkerd\'s (policy.linkerd.io), see the README under "Authorization policy"',
    });
    this.name = 'PolicyResourceError';
    this.problems = problems;
  }
}

export const POLICY_GROUP = 'policy.linkerd.io';
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** The versions read, per kind (older Server versions too, as Linkerd serves them). */
export const KINDS = {
  Server: { group: POLICY_GROUP, versions: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'] },
  AuthorizationPolicy: { group: POLICY_GROUP, versions: ['v1alpha1'] },
  MeshTLSAuthentication: { group: POLICY_GROUP, versions: ['v1alpha1'] },
  NetworkAuthentication: { group: POLICY_GROUP, versions: ['v1alpha1'] },
  HTTPLocalRateLimitPolicy: { group: POLICY_GROUP, versions: ['v1alpha1'] },
  // Both groups' versions; which group serves which is GROUP_VERSIONS' (servedVersions).
  HTTPRoute: { group: [POLICY_GROUP, GATEWAY_GROUP], versions: ['v1alpha1', 'v1alpha2', 'v1beta1', 'v1beta2', 'v1beta3', 'v1'] },
  GRPCRoute: { group: [GATEWAY_GROUP], versions: ['v1alpha2', 'v1'] },
} as const;
export type PolicyKind = keyof typeof KINDS;

/**
 * A kind served by two groups with different versions: Linkerd's HTTPRoute CRD serves
 * policy.linkerd.io v1alpha1 to v1beta3 (there is no policy.linkerd.io/v1), the Gateway API's
 * v1alpha2, v1beta1 and v1.
 */
const GROUP_VERSIONS: Partial<Record<PolicyKind, Readonly<Record<string, readonly string[]>>>> = {
  HTTPRoute: { [POLICY_GROUP]: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'], [GATEWAY_GROUP]: ['v1alpha2', 'v1beta1', 'v1'] },
};

/** The versions of `kind` that `group` serves (empty: not that group's). */
export function servedVersions(kind: PolicyKind, group: string): readonly string[] {
  const k = KINDS[kind];
  const groups: readonly string[] = Array.isArray(k.group) ? k.group : [k.group as string];
  if (!groups.includes(group)) return [];
  return GROUP_VERSIONS[kind]?.[group] ?? (k.versions as readonly string[]);
}

export interface Meta {
  name: string;
  namespace: string;
  /** Creation order in its source (a file's document order, or the API server's creationTimestamp). */
  created: string;
}

export interface Ref {
  group: string;
  kind: string;
  name: string;
  /** Defaults to the referring resource's namespace. */
  namespace: string;
  /** A parentRef's port (a Service parent's port); absent: every port. */
  port?: number;
}

export interface ServerRes {
  kind: 'Server';
  meta: Meta;
  selector: LabelSelector;
  /** Selects external workloads instead of pods (kept, never matches a pod). */
  external: boolean;
  port: number | string;
  protocol: ProxyProtocol;
  accessPolicy: DefaultPolicy;
}

export interface AuthorizationPolicyRes {
  kind: 'AuthorizationPolicy';
  meta: Meta;
  target: Ref;
  required: Ref[];
}

export interface MeshTLSAuthenticationRes {
  kind: 'MeshTLSAuthentication';
  meta: Meta;
  identities: string[];
  identityRefs: Ref[];
}

export interface NetworkAuthenticationRes {
  kind: 'NetworkAuthentication';
  meta: Meta;
  networks: { net: IpNet; except: IpNet[] }[];
}

export interface RouteRes {
  kind: 'HTTPRoute' | 'GRPCRoute';
  group: string;
  meta: Meta;
  parents: Ref[];
  hostnames: string[];
  http: HttpMatch[];
  grpc: GrpcMatch[];
  /** Per rule, for the outbound side: its own matches, filters, backends, timeouts. */
  rules: (RuleOutbound & { http: HttpMatch[]; grpc: GrpcMatch[] })[];
  /** The route's retry/timeout annotations, read. */
  settings: RouteSettings;
}

/** A Kubernetes Service, for its route annotations (the embedded mode's policy files may hold them). */
export interface ServiceRes {
  kind: 'Service';
  meta: Meta;
  settings: RouteSettings;
}

export interface RateLimitRes {
  kind: 'HTTPLocalRateLimitPolicy';
  meta: Meta;
  target: Ref;
  total: number;
  identity: number;
  overrides: { requestsPerSecond: number; clientRefs: Ref[] }[];
}

export type PolicyResource = ServerRes | AuthorizationPolicyRes | MeshTLSAuthenticationRes | NetworkAuthenticationRes | RouteRes | RateLimitRes | ServiceRes;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const PROTOCOLS: Record<string, ProxyProtocol> = { unknown: 'detect', 'HTTP/1': 'http1', 'HTTP/2': 'http2', gRPC: 'grpc', opaque: 'opaque', TLS: 'tls' };
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Whether an object is one of ours (by apiVersion group and kind); others are not policy. */
export function isPolicyObject(o: unknown): boolean {
  if (!isObj(o) || typeof o['apiVersion'] !== 'string' || typeof o['kind'] !== 'string') return false;
  if (o['apiVersion'] === 'v1' && o['kind'] === 'Service') return true;
  const group = o['apiVersion'].split('/')[0]!;
  if (group === POLICY_GROUP) return true;
  return group === GATEWAY_GROUP && (o['kind'] === 'HTTPRoute' || o['kind'] === 'GRPCRoute');
}

/**
 * Reads one object. `where` names it in errors (file and document); `order` is its creation
 * order when the object has no creationTimestamp.
 */
export function parsePolicyResource(o: unknown, where: string, order = ''): PolicyResource {
  const problems: string[] = [];
  const bad = (path: string, why: string) => problems.push(`${path}: ${why}`);
  if (!isObj(o)) throw new PolicyResourceError(where, ['(top level): expected an object with apiVersion, kind, metadata, spec']);
  const apiVersion = typeof o['apiVersion'] === 'string' ? o['apiVersion'] : '';
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const kind = o['kind'];
  if (apiVersion === 'v1' && kind === 'Service') return parseService(o, where, order);
  // Own keys only: a kind named "constructor" or "toString" would otherwise find Object.prototype's.
  const spec = typeof kind === 'string' && Object.hasOwn(KINDS, kind) ? KINDS[kind as PolicyKind] : undefined;
  if (typeof kind !== 'string' || !spec) {
    throw new PolicyResourceError(where, [`kind: ${JSON.stringify(kind)} is not a policy kind (${Object.keys(KINDS).join(', ')})`]);
  }
  const groups: readonly string[] = Array.isArray(spec.group) ? spec.group : [spec.group as string];
  if (!servedVersions(kind as PolicyKind, group!).includes(version!)) {
    throw new PolicyResourceError(where, [`apiVersion: ${JSON.stringify(apiVersion)} is not served for ${kind} (${groups.map((g) => servedVersions(kind as PolicyKind, g).map((v) => `${g}/${v}`).join(', ')).join(', ')})`]);
  }
  const md = isObj(o['metadata']) ? o['metadata'] : {};
  const name = typeof md['name'] === 'string' && md['name'] !== '' ? md['name'] : (bad('metadata.name', 'required'), '?');
  const namespace = md['namespace'] === undefined ? 'default' : typeof md['namespace'] === 'string' && DNS1123.test(md['namespace']) ? md['namespace'] : (bad('metadata.namespace', 'not a namespace name'), '?');
  const created = typeof md['creationTimestamp'] === 'string' ? md['creationTimestamp'] : order;
  const meta: Meta = { name, namespace, created };
  const s: Obj = isObj(o['spec']) ? o['spec'] : (bad('spec', 'required (a mapping)'), {});

  const allowed = (obj: Obj, path: string, keys: readonly string[]) => {
    for (const k of Object.keys(obj)) if (!keys.includes(k)) bad(`${path}.${k}`, `unknown field (allowed: ${keys.join(', ')})`);
  };
  const str = (v: unknown, path: string, required = true): string | undefined => {
    if (v === undefined && !required) return undefined;
    if (typeof v === 'string' && v !== '') return v;
    bad(path, required && v === undefined ? 'required' : `${JSON.stringify(v)} is not a non-empty string`);
    return undefined;
  };
  const list = (v: unknown, path: string, required = false): unknown[] => {
    if (v === undefined || v === null) {
      if (required) bad(path, 'required (a list)');
      return [];
    }
    if (!Array.isArray(v)) {
      bad(path, 'expected a list');
      return [];
    }
    return v;
  };
  /** `nameOptional`: an absent name reads as '' (every resource of the kind in the namespace). */
  const ref = (v: unknown, path: string, defaultGroup: string | ((kind: string) => string), nameOptional = false): Ref | undefined => {
    if (!isObj(v)) return void bad(path, 'expected a reference {group, kind, name}');
    allowed(v, path, ['group', 'kind', 'name', 'namespace', 'port', 'sectionName']);
    const k = str(v['kind'], `${path}.kind`);
    const n = nameOptional && v['name'] === undefined ? '' : str(v['name'], `${path}.name`);
    const g = v['group'] === undefined ? (typeof defaultGroup === 'string' ? defaultGroup : defaultGroup(k ?? '')) : typeof v['group'] === 'string' ? v['group'] : (bad(`${path}.group`, 'expected a string'), '');
    const ns = v['namespace'] === undefined ? namespace : str(v['namespace'], `${path}.namespace`);
    const port = v['port'];
    if (port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) bad(`${path}.port`, `${JSON.stringify(port)} is not a port (1-65535)`);
    return k && n !== undefined && ns !== undefined ? { group: g, kind: k, name: n, namespace: ns, ...(typeof port === 'number' ? { port } : {}) } : undefined;
  };
  const positive = (v: unknown, path: string): number => {
    if (v === undefined) return 0;
    if (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1_000_000_000) return v;
    bad(path, `${JSON.stringify(v)} is not a positive integer`);
    return 0;
  };

  let out: PolicyResource | undefined;
  switch (kind as PolicyKind) {
    case 'Server': {
      allowed(s, 'spec', ['podSelector', 'externalWorkloadSelector', 'port', 'proxyProtocol', 'accessPolicy']);
      const hasPod = s['podSelector'] !== undefined;
      const hasExt = s['externalWorkloadSelector'] !== undefined;
      if (hasPod === hasExt) bad('spec', 'exactly one of podSelector and externalWorkloadSelector is required');
      const selPath = hasExt ? 'spec.externalWorkloadSelector' : 'spec.podSelector';
      const selector = parseSelector(s[hasExt ? 'externalWorkloadSelector' : 'podSelector'] ?? {}, selPath, problems);
      const p = s['port'];
      let port: number | string = 0;
      if (typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535) port = p;
      else if (typeof p === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p) && p.length <= 15 && /[a-z]/.test(p)) port = p;
      else bad('spec.port', p === undefined ? 'required (a port number or a container port name)' : `${JSON.stringify(p)} is not a port number (1-65535) or a port name (IANA_SVC_NAME, at most 15 characters)`);
      const pp = s['proxyProtocol'] ?? 'unknown';
      // Own keys only: "constructor" or "valueOf" would find Object.prototype's and pass as a protocol.
      const protocol = typeof pp === 'string' && Object.hasOwn(PROTOCOLS, pp) ? PROTOCOLS[pp] : undefined;
      if (!protocol) bad('spec.proxyProtocol', `${JSON.stringify(pp)} is not one of ${Object.keys(PROTOCOLS).join(', ')}`);
      const ap = s['accessPolicy'] ?? 'deny';
      if (typeof ap !== 'string' || !isDefaultPolicy(ap)) bad('spec.accessPolicy', `${JSON.stringify(ap)} is not one of all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit`);
      out = { kind: 'Server', meta, selector, external: hasExt, port, protocol: protocol ?? 'detect', accessPolicy: isDefaultPolicy(String(ap)) ? (ap as DefaultPolicy) : 'deny' };
      break;
    }
    case 'AuthorizationPolicy': {
      allowed(s, 'spec', ['targetRef', 'requiredAuthenticationRefs']);
      const target = ref(s['targetRef'], 'spec.targetRef', POLICY_GROUP);
      if (target) {
        const okTarget =
          (target.kind === 'Server' && target.group === POLICY_GROUP) ||
          (target.kind === 'HTTPRoute' && (target.group === POLICY_GROUP || target.group === GATEWAY_GROUP)) ||
          (target.kind === 'GRPCRoute' && target.group === GATEWAY_GROUP) ||
          (target.kind === 'Namespace' && target.group === '');
        if (!okTarget) bad('spec.targetRef', `${target.group || 'core'}/${target.kind} is not a target (Server, HTTPRoute, GRPCRoute of ${POLICY_GROUP} or ${GATEWAY_GROUP}, or Namespace with group "")`);
        if (target.kind !== 'Namespace' && target.namespace !== namespace) bad('spec.targetRef.namespace', 'must be the policy\'s own namespace');
      }
      const required: Ref[] = [];
      const counts: Record<string, number> = {};
      list(s['requiredAuthenticationRefs'], 'spec.requiredAuthenticationRefs', true).forEach((r, i) => {
        const path = `spec.requiredAuthenticationRefs[${i}]`;
        // Linkerd reads an absent group as core: `{kind: ServiceAccount, name: web}` is its documented form.
        const x = ref(r, path, (k) => (k === 'ServiceAccount' ? '' : POLICY_GROUP));
        if (!x) return;
        const ok = ((x.kind === 'MeshTLSAuthentication' || x.kind === 'NetworkAuthentication') && x.group === POLICY_GROUP) || (x.kind === 'ServiceAccount' && x.group === '');
        if (!ok) return void bad(path, `${x.group || 'core'}/${x.kind} is not an authentication (MeshTLSAuthentication, NetworkAuthentication, or ServiceAccount with group "")`);
        const slot = x.kind === 'NetworkAuthentication' ? 'network' : 'identity';
        counts[slot] = (counts[slot] ?? 0) + 1;
        if (counts[slot] === 2) bad(path, `at most one ${slot === 'network' ? 'NetworkAuthentication' : 'MeshTLSAuthentication or ServiceAccount'} may be required`);
        required.push(x);
      });
      if (target) out = { kind: 'AuthorizationPolicy', meta, target, required };
      break;
    }
    case 'MeshTLSAuthentication': {
      allowed(s, 'spec', ['identities', 'identityRefs']);
      const identities = list(s['identities'], 'spec.identities').flatMap((v, i) => {
        const t = str(v, `spec.identities[${i}]`);
        if (t === undefined) return [];
        if (t !== '*' && !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(t)) {
          bad(`spec.identities[${i}]`, `${JSON.stringify(t)} is not an identity (a DNS-like name, "*", or "*.suffix")`);
          return [];
        }
        return [t];
      });
      const identityRefs = list(s['identityRefs'], 'spec.identityRefs').flatMap((v, i) => {
        // As Linkerd's CRD: only kind is required; no name means every ServiceAccount of the namespace.
        const x = ref(v, `spec.identityRefs[${i}]`, '', true);
        if (!x) return [];
        if (x.group !== '' || (x.kind !== 'ServiceAccount' && x.kind !== 'Namespace')) {
          bad(`spec.identityRefs[${i}]`, `${x.group || 'core'}/${x.kind} is not ServiceAccount or Namespace`);
          return [];
        }
        return [x];
      });
      if ((s['identities'] === undefined) === (s['identityRefs'] === undefined)) bad('spec', 'exactly one of identities and identityRefs is required');
      else if (identities.length + identityRefs.length === 0 && problems.length === 0) bad('spec', 'identities or identityRefs must list at least one');
      out = { kind: 'MeshTLSAuthentication', meta, identities, identityRefs };
      break;
    }
    case 'NetworkAuthentication': {
      allowed(s, 'spec', ['networks']);
      const networks = list(s['networks'], 'spec.networks', true).flatMap((v, i) => {
        const path = `spec.networks[${i}]`;
        if (!isObj(v)) return void bad(path, 'expected {cidr, except}'), [];
        allowed(v, path, ['cidr', 'except']);
        const net = cidr(v['cidr'], `${path}.cidr`);
        const except = list(v['except'], `${path}.except`).flatMap((e, j) => {
          const x = cidr(e, `${path}.except[${j}]`);
          if (x && net && (x.prefix < net.prefix || !netContains(net, { family: x.family, value: x.base }))) bad(`${path}.except[${j}]`, 'must lie inside the cidr');
          return x ? [x] : [];
        });
        return net ? [{ net, except }] : [];
      });
      if (Array.isArray(s['networks']) && s['networks'].length === 0) bad('spec.networks', 'must list at least one network');
      out = { kind: 'NetworkAuthentication', meta, networks };
      break;
    }
    case 'HTTPRoute':
    case 'GRPCRoute': {
      allowed(s, 'spec', ['parentRefs', 'hostnames', 'rules']);
      const parents = list(s['parentRefs'], 'spec.parentRefs', true).flatMap((v, i) => {
        // An absent group is the route's own, as both CRDs default it (policy.linkerd.io's HTTPRoute: policy.linkerd.io).
        const x = ref(v, `spec.parentRefs[${i}]`, group!);
        return x ? [x] : [];
      });
      const hostnames = list(s['hostnames'], 'spec.hostnames').flatMap((v, i) => {
        const h = str(v, `spec.hostnames[${i}]`);
        if (h && !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(h)) return bad(`spec.hostnames[${i}]`, `${JSON.stringify(h)} is not a hostname`), [];
        return h ? [h] : [];
      });
      const http: HttpMatch[] = [];
      const grpc: GrpcMatch[] = [];
      const outRules: RouteRes['rules'] = [];
      const rules = list(s['rules'], 'spec.rules');
      // A route with no rules, or a rule with no matches, matches every request (Gateway API default).
      if (rules.length === 0) kind === 'GRPCRoute' ? grpc.push({ kind: 'exact', headers: [] }) : http.push({ path: { kind: 'prefix', value: '/' }, headers: [], query: [] });
      rules.forEach((r, i) => {
        const rp = `spec.rules[${i}]`;
        if (!isObj(r)) return void bad(rp, 'expected a mapping');
        allowed(r, rp, ['matches', 'filters', 'backendRefs', 'timeouts', 'name', 'sessionPersistence', 'retry']);
        const ms = list(r['matches'], `${rp}.matches`);
        const before = { http: http.length, grpc: grpc.length };
        const outbound = parseRuleOutbound(r, rp, namespace, kind === 'GRPCRoute', bad);
        if (ms.length === 0) kind === 'GRPCRoute' ? grpc.push({ kind: 'exact', headers: [] }) : http.push({ path: { kind: 'prefix', value: '/' }, headers: [], query: [] });
        ms.forEach((m, j) => {
          const mp = `${rp}.matches[${j}]`;
          if (!isObj(m)) return void bad(mp, 'expected a mapping');
          if (kind === 'HTTPRoute') {
            allowed(m, mp, ['path', 'method', 'headers', 'queryParams']);
            const path = m['path'] === undefined ? { kind: 'prefix' as const, value: '/' } : pathMatch(m['path'], `${mp}.path`);
            const method = m['method'] === undefined ? undefined : str(m['method'], `${mp}.method`);
            if (method && !/^[A-Z]+$/.test(method)) bad(`${mp}.method`, `${JSON.stringify(method)} is not an HTTP method`);
            http.push({ path, method, headers: headerMatches(m['headers'], `${mp}.headers`), query: headerMatches(m['queryParams'], `${mp}.queryParams`, false) });
          } else {
            allowed(m, mp, ['method', 'headers']);
            const mm = m['method'];
            let g: GrpcMatch = { kind: 'exact', headers: headerMatches(m['headers'], `${mp}.headers`) };
            if (mm !== undefined) {
              if (!isObj(mm)) bad(`${mp}.method`, 'expected {type, service, method}');
              else {
                allowed(mm, `${mp}.method`, ['type', 'service', 'method']);
                const t = mm['type'] ?? 'Exact';
                if (t !== 'Exact' && t !== 'RegularExpression') bad(`${mp}.method.type`, `${JSON.stringify(t)} is not Exact or RegularExpression`);
                const service = str(mm['service'], `${mp}.method.service`, false);
                const method = str(mm['method'], `${mp}.method.method`, false);
                if (!service && !method) bad(`${mp}.method`, 'service or method is required');
                if (t === 'RegularExpression') for (const [k, v] of [['service', service], ['method', method]] as const) if (v !== undefined && !compiles(v)) bad(`${mp}.method.${k}`, 'not a valid regular expression');
                g = { ...g, kind: t === 'RegularExpression' ? 'regex' : 'exact', service, method };
              }
            }
            grpc.push(g);
          }
        });
        outRules.push({ ...outbound, http: http.slice(before.http), grpc: grpc.slice(before.grpc) });
      });
      const settings = readRouteAnnotations(annotations(md, problems), problems);
      out = { kind: kind as 'HTTPRoute' | 'GRPCRoute', group: group!, meta, parents, hostnames, http, grpc, rules: outRules, settings };
      break;
    }
    case 'HTTPLocalRateLimitPolicy': {
      allowed(s, 'spec', ['targetRef', 'total', 'identity', 'overrides']);
      const target = ref(s['targetRef'], 'spec.targetRef', POLICY_GROUP);
      if (target && (target.kind !== 'Server' || target.group !== POLICY_GROUP)) bad('spec.targetRef', 'must be a Server (policy.linkerd.io)');
      const rps = (v: unknown, path: string): number => {
        if (v === undefined) return 0;
        if (!isObj(v)) return bad(path, 'expected {requestsPerSecond}'), 0;
        allowed(v, path, ['requestsPerSecond']);
        return positive(v['requestsPerSecond'], `${path}.requestsPerSecond`);
      };
      const total = rps(s['total'], 'spec.total');
      const identity = rps(s['identity'], 'spec.identity');
      const overrides = list(s['overrides'], 'spec.overrides').flatMap((v, i) => {
        const path = `spec.overrides[${i}]`;
        if (!isObj(v)) return bad(path, 'expected {requestsPerSecond, clientRefs}'), [];
        allowed(v, path, ['requestsPerSecond', 'clientRefs']);
        const requestsPerSecond = positive(v['requestsPerSecond'], `${path}.requestsPerSecond`);
        if (v['requestsPerSecond'] === undefined) bad(`${path}.requestsPerSecond`, 'required');
        const clientRefs = list(v['clientRefs'], `${path}.clientRefs`, true).flatMap((c, j) => {
          const x = ref(c, `${path}.clientRefs[${j}]`, '');
          if (x && (x.kind !== 'ServiceAccount' || x.group !== '')) return bad(`${path}.clientRefs[${j}]`, 'must be a ServiceAccount'), [];
          return x ? [x] : [];
        });
        return [{ requestsPerSecond, clientRefs }];
      });
      if (target) out = { kind: 'HTTPLocalRateLimitPolicy', meta, target, total, identity, overrides };
      break;
    }
  }
  if (problems.length > 0 || !out) throw new PolicyResourceError(where, problems.length > 0 ? problems : ['(top level): not readable']);
  return out;

  function cidr(v: unknown, path: string): IpNet | undefined {
    if (typeof v !== 'string') return void bad(path, 'required (a CIDR such as 10.0.0.0/8 or fd00::/8)');
    try {
      return parseNet(v);
    } catch (e) {
      return void bad(path, (e as Error).message);
    }
  }
  function pathMatch(v: unknown, path: string): StringMatch | undefined {
    if (!isObj(v)) return void bad(path, 'expected {type, value}');
    allowed(v, path, ['type', 'value']);
    const t = v['type'] ?? 'PathPrefix';
    const value = v['value'] ?? '/';
    if (typeof value !== 'string') return void bad(`${path}.value`, 'expected a string');
    if (t === 'Exact' || t === 'PathPrefix') {
      if (!value.startsWith('/')) bad(`${path}.value`, 'must start with "/"');
      return { kind: t === 'Exact' ? 'exact' : 'prefix', value };
    }
    if (t === 'RegularExpression') {
      if (!compiles(value)) bad(`${path}.value`, 'not a valid regular expression');
      return { kind: 'regex', value };
    }
    return void bad(`${path}.type`, `${JSON.stringify(t)} is not Exact, PathPrefix or RegularExpression`);
  }
  function headerMatches(v: unknown, path: string, lower = true): HeaderMatch[] {
    return list(v, path).flatMap((h, i) => {
      const hp = `${path}[${i}]`;
      if (!isObj(h)) return bad(hp, 'expected {type, name, value}'), [];
      allowed(h, hp, ['type', 'name', 'value']);
      const n = str(h['name'], `${hp}.name`);
      const value = typeof h['value'] === 'string' ? h['value'] : (bad(`${hp}.value`, 'required (a string)'), undefined);
      const t = h['type'] ?? 'Exact';
      if (t !== 'Exact' && t !== 'RegularExpression') return bad(`${hp}.type`, `${JSON.stringify(t)} is not Exact or RegularExpression`), [];
      if (t === 'RegularExpression' && value !== undefined && !compiles(value)) bad(`${hp}.value`, 'not a valid regular expression');
      return n && value !== undefined ? [{ name: lower ? n.toLowerCase() : n, kind: t === 'Exact' ? ('exact' as const) : ('regex' as const), value }] : [];
    });
  }
}

/** metadata.annotations as strings (others are listed as problems). */
function annotations(md: Obj, problems: string[]): Record<string, string> {
  const a = md['annotations'];
  if (a === undefined || a === null) return {};
  if (!isObj(a)) return problems.push('metadata.annotations: expected a mapping'), {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === 'string') out[k] = v;
    else problems.push(`metadata.annotations.${k}: ${JSON.stringify(v)} is not a string`);
  }
  return out;
}

function parseService(o: Obj, where: string, order: string): ServiceRes {
  const problems: string[] = [];
  const md = isObj(o['metadata']) ? o['metadata'] : {};
  const name = typeof md['name'] === 'string' && DNS1123.test(md['name']) ? md['name'] : (problems.push('metadata.name: required (a Service name)'), '?');
  const namespace = md['namespace'] === undefined ? 'default' : typeof md['namespace'] === 'string' && DNS1123.test(md['namespace']) ? md['namespace'] : (problems.push('metadata.namespace: not a namespace name'), '?');
  const created = typeof md['creationTimestamp'] === 'string' ? md['creationTimestamp'] : order;
  const settings = readRouteAnnotations(annotations(md, problems), problems);
  if (problems.length > 0) throw new PolicyResourceError(where, problems);
  return { kind: 'Service', meta: { name, namespace, created }, settings };
}

function compiles(re: string): boolean {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}
