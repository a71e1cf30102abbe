/**
 * The outbound half of an HTTPRoute or GRPCRoute rule: filters (RequestHeaderModifier,
 * ResponseHeaderModifier, RequestRedirect, URLRewrite), backendRefs with weights, and timeouts
 * (request, backendRequest). Pure: problems are collected with their paths, as resources.ts does.
 */
import { parseGoDuration } from '../../core/route/annotations';
import type { Filter, HeaderEdit, PathRewrite, Timeouts } from '../../core/route/model';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface BackendRefRes {
  group: string;
  kind: string;
  name: string;
  namespace: string;
  /** Required for a Service (Gateway API); 0 when absent. */
  port: number;
  /** Default 1. */
  weight: number;
  /** Applied when this backend is the one chosen (after the rule's). */
  filters: Filter[];
}

export interface RuleOutbound {
  filters: Filter[];
  backends: BackendRefRes[];
  timeouts: Timeouts;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/** Reads `filters`, `backendRefs` and `timeouts` of rule `r` at `path`; `grpc`: a GRPCRoute rule. */
export function parseRuleOutbound(r: Obj, path: string, namespace: string, grpc: boolean, bad: (path: string, why: string) => void): RuleOutbound {
  const allowed = (o: Obj, p: string, keys: readonly string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${p}.${k}`, `unknown field (allowed: ${keys.join(', ')})`);
  };
  const list = (v: unknown, p: string): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : (bad(p, 'expected a list'), []));
  const str = (v: unknown, p: string): string | undefined => (typeof v === 'string' && v !== '' ? v : void bad(p, v === undefined ? 'required' : `${JSON.stringify(v)} is not a non-empty string`));

  const headerEdit = (v: unknown, p: string): HeaderEdit => {
    if (!isObj(v)) return bad(p, 'expected {set, add, remove}'), { set: [], add: [], remove: [] };
    allowed(v, p, ['set', 'add', 'remove']);
    const pairs = (k: 'set' | 'add') =>
      list(v[k], `${p}.${k}`).flatMap((h, i): [string, string][] => {
        const hp = `${p}.${k}[${i}]`;
        if (!isObj(h)) return bad(hp, 'expected {name, value}'), [];
        allowed(h, hp, ['name', 'value']);
        const n = str(h['name'], `${hp}.name`);
        if (n && !HEADER_NAME.test(n)) return bad(`${hp}.name`, `${JSON.stringify(n)} is not a header name`), [];
        if (typeof h['value'] !== 'string') return bad(`${hp}.value`, 'required (a string)'), [];
        return n ? [[n.toLowerCase(), h['value']]] : [];
      });
    const remove = list(v['remove'], `${p}.remove`).flatMap((n, i) => {
      const x = str(n, `${p}.remove[${i}]`);
      return x ? [x.toLowerCase()] : [];
    });
    return { set: pairs('set'), add: pairs('add'), remove };
  };
  const pathRewrite = (v: unknown, p: string): PathRewrite | undefined => {
    if (v === undefined) return undefined;
    if (!isObj(v)) return void bad(p, 'expected {type, replaceFullPath | replacePrefixMatch}');
    allowed(v, p, ['type', 'replaceFullPath', 'replacePrefixMatch']);
    if (v['type'] === 'ReplaceFullPath') {
      const x = str(v['replaceFullPath'], `${p}.replaceFullPath`);
      return x ? { kind: 'full', value: x } : undefined;
    }
    if (v['type'] === 'ReplacePrefixMatch') {
      const x = str(v['replacePrefixMatch'], `${p}.replacePrefixMatch`);
      return x ? { kind: 'prefix', value: x } : undefined;
    }
    return void bad(`${p}.type`, `${JSON.stringify(v['type'])} is not ReplaceFullPath or ReplacePrefixMatch`);
  };
  const hostname = (v: unknown, p: string): string | undefined => {
    if (v === undefined) return undefined;
    const h = str(v, p);
    if (h && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(h)) return void bad(p, `${JSON.stringify(h)} is not a hostname`);
    return h;
  };

  const filterKinds = grpc ? ['RequestHeaderModifier', 'ResponseHeaderModifier'] : ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'];
  const parseFilters = (v: unknown, at: string): Filter[] => list(v, at).flatMap((f, i): Filter[] => {
    const fp = `${at}[${i}]`;
    if (!isObj(f)) return bad(fp, 'expected {type, ...}'), [];
    const t = f['type'];
    if (typeof t !== 'string' || !filterKinds.includes(t)) return bad(`${fp}.type`, `${JSON.stringify(t)} is not one of ${filterKinds.join(', ')}`), [];
    const field = t[0]!.toLowerCase() + t.slice(1);
    allowed(f, fp, ['type', field]);
    const body = f[field];
    switch (t) {
      case 'RequestHeaderModifier':
        return [{ kind: 'requestHeaderModifier', ...headerEdit(body, `${fp}.${field}`) }];
      case 'ResponseHeaderModifier':
        return [{ kind: 'responseHeaderModifier', ...headerEdit(body, `${fp}.${field}`) }];
      case 'RequestRedirect': {
        const rp = `${fp}.requestRedirect`;
        if (!isObj(body)) return bad(rp, 'expected {scheme, hostname, path, port, statusCode}'), [];
        allowed(body, rp, ['scheme', 'hostname', 'path', 'port', 'statusCode']);
        const scheme = body['scheme'];
        if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') bad(`${rp}.scheme`, `${JSON.stringify(scheme)} is not http or https`);
        const port = body['port'];
        if (port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) bad(`${rp}.port`, `${JSON.stringify(port)} is not a port (1-65535)`);
        const status = body['statusCode'] ?? 302;
        if (status !== 301 && status !== 302) bad(`${rp}.statusCode`, `${JSON.stringify(status)} is not 301 or 302`);
        const h = hostname(body['hostname'], `${rp}.hostname`);
        const pr = pathRewrite(body['path'], `${rp}.path`);
        return [{ kind: 'requestRedirect', status: status as number, ...(typeof scheme === 'string' ? { scheme } : {}), ...(h ? { hostname: h } : {}), ...(pr ? { path: pr } : {}), ...(typeof port === 'number' ? { port } : {}) }];
      }
      default: {
        const up = `${fp}.urlRewrite`;
        if (!isObj(body)) return bad(up, 'expected {hostname, path}'), [];
        allowed(body, up, ['hostname', 'path']);
        const h = hostname(body['hostname'], `${up}.hostname`);
        const pr = pathRewrite(body['path'], `${up}.path`);
        return [{ kind: 'urlRewrite', ...(h ? { hostname: h } : {}), ...(pr ? { path: pr } : {}) }];
      }
    }
  });
  const filters = parseFilters(r['filters'], `${path}.filters`);

  const backends = list(r['backendRefs'], `${path}.backendRefs`).flatMap((b, i): BackendRefRes[] => {
    const bp = `${path}.backendRefs[${i}]`;
    if (!isObj(b)) return bad(bp, 'expected {name, port, weight}'), [];
    allowed(b, bp, ['group', 'kind', 'name', 'namespace', 'port', 'weight', 'filters']);
    const group = b['group'] ?? '';
    const kind = b['kind'] ?? 'Service';
    if (group !== '' || kind !== 'Service') return bad(bp, `${String(group) || 'core'}/${String(kind)} is not a Service (group "", kind Service)`), [];
    const name = str(b['name'], `${bp}.name`);
    const ns = b['namespace'] === undefined ? namespace : str(b['namespace'], `${bp}.namespace`);
    const port = b['port'];
    if (!(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) bad(`${bp}.port`, port === undefined ? 'required for a Service' : `${JSON.stringify(port)} is not a port (1-65535)`);
    const weight = b['weight'] ?? 1;
    if (!(typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 && weight <= 1_000_000)) bad(`${bp}.weight`, `${JSON.stringify(weight)} is not an integer 0-1000000`);
    const filters = parseFilters(b['filters'], `${bp}.filters`);
    return name && ns ? [{ group: '', kind: 'Service', name, namespace: ns, port: typeof port === 'number' ? port : 0, weight: typeof weight === 'number' ? weight : 1, filters }] : [];
  });

  const timeouts: Timeouts = {};
  const t = r['timeouts'];
  if (t !== undefined) {
    const tp = `${path}.timeouts`;
    if (!isObj(t)) bad(tp, 'expected {request, backendRequest}');
    else {
      allowed(t, tp, ['request', 'backendRequest']);
      for (const k of ['request', 'backendRequest'] as const) {
        if (t[k] === undefined) continue;
        const ms = typeof t[k] === 'string' ? parseGoDuration(t[k]) : undefined;
        if (ms === undefined) bad(`${tp}.${k}`, `${JSON.stringify(t[k])} is not a duration such as 300ms, 10s, 1m30s`);
        else if (ms > 0) timeouts[k === 'request' ? 'requestMs' : 'backendRequestMs'] = ms;
      }
      // Gateway API: backendRequest must not exceed request.
      if (timeouts.requestMs !== undefined && timeouts.backendRequestMs !== undefined && timeouts.backendRequestMs > timeouts.requestMs) bad(`${tp}.backendRequest`, 'is longer than request');
    }
  }
  return { filters, backends, timeouts };
}
