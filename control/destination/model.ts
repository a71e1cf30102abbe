/**
 * The discovery model every source produces (the mesh file, Kubernetes) and the pure logic on
 * it: parsing a lookup path, resolving it against a snapshot, and diffing two resolutions into
 * the add/remove/no-endpoints updates the Destination API streams. No I/O here.
 */
import { isIP } from 'node:net';
import { LinnetError } from '../../core/errors';

/** The default load-balancing weight (Linkerd's scale). */
export const DEFAULT_WEIGHT = 10_000;
/** The proxies' default opaque ports (LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION, DESIGN.md). */
export const DEFAULT_OPAQUE_PORTS: ReadonlySet<number> = new Set([25, 587, 3306, 4444, 5432, 6379, 9300, 11211]);

/** The proxy's inbound port: where opaque traffic to a meshed endpoint is sent (opaque transport). */
export const PROXY_INBOUND_PORT = 4143;

export interface MeshEndpoint {
  readonly ip: string;
  /** A fixed target port for every service port; absent: see portMap, else the service port. */
  readonly port?: number;
  /** service port → target port (Kubernetes EndpointSlice ports); a service port missing here is not served. */
  readonly portMap?: ReadonlyMap<number, number>;
  /** TLS identity of the endpoint's proxy; absent: the endpoint is not meshed. */
  readonly identity?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
  /**
   * Target ports the workload's own proxy treats as opaque (its configuration or the pod's
   * opaque-ports annotation); absent: the default list, as the injector gives every proxy.
   */
  readonly opaquePorts?: ReadonlySet<number>;
}

export interface MeshService {
  /** The authority host clients use, lower case, no trailing dot. */
  readonly name: string;
  /** Virtual IPs, balanced across the endpoints. */
  readonly addresses: readonly string[];
  /** Service ports; empty means every port. */
  readonly ports: readonly number[];
  readonly opaquePorts: ReadonlySet<number>;
  /** Service ports whose appProtocol declares HTTP (http/websocket: http1; kubernetes.io/h2c: h2). */
  readonly httpPorts?: ReadonlyMap<number, 'http1' | 'h2'>;
  /** Labels for the whole set (metric_labels of WeightedAddrSet). */
  readonly labels: Readonly<Record<string, string>>;
  readonly endpoints: readonly MeshEndpoint[];
}

export interface MeshWorkload {
  readonly identity: string;
  readonly token: string;
  /** what `linnet viz` calls it (its deploy/NAME); default: the identity's service-account part */
  readonly name?: string;
}

export interface MeshState {
  readonly services: readonly MeshService[];
  /** Endpoints known outside any service (e.g. every meshed pod), for lookups by IP. */
  readonly standalone?: readonly MeshEndpoint[];
  readonly workloads: readonly MeshWorkload[];
}

/** A snapshot with the indexes lookups need. Immutable: a change builds a new one. */
export interface MeshIndex {
  readonly state: MeshState;
  readonly byName: ReadonlyMap<string, MeshService>;
  readonly byVip: ReadonlyMap<string, MeshService>;
  readonly byEndpointIp: ReadonlyMap<string, readonly { service?: MeshService; endpoint: MeshEndpoint }[]>;
}

export function indexMesh(state: MeshState): MeshIndex {
  const byName = new Map<string, MeshService>();
  const byVip = new Map<string, MeshService>();
  const byEndpointIp = new Map<string, { service?: MeshService; endpoint: MeshEndpoint }[]>();
  const addEp = (ip: string, entry: { service?: MeshService; endpoint: MeshEndpoint }) => {
    const list = byEndpointIp.get(ip);
    if (list) list.push(entry);
    else byEndpointIp.set(ip, [entry]);
  };
  for (const s of state.services) {
    byName.set(s.name, s);
    for (const a of s.addresses) byVip.set(canonicalIp(a), s);
    for (const e of s.endpoints) addEp(canonicalIp(e.ip), { service: s, endpoint: e });
  }
  for (const e of state.standalone ?? []) addEp(canonicalIp(e.ip), { endpoint: e });
  return { state, byName, byVip, byEndpointIp };
}

export const EMPTY_INDEX: MeshIndex = indexMesh({ services: [], workloads: [] });

/** A lookup request, parsed from GetDestination.path. */
export type Target = { kind: 'name'; name: string; port: number } | { kind: 'ip'; ip: string; port: number };

export class DestinationError extends LinnetError {
  constructor(code: string, message: string, hint: string) {
    super(code, message, { hint });
    this.name = 'DestinationError';
  }
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Normalises an IP literal so that lookups match however it was written (IPv6 zero forms). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** `name[:port]`, `ip:port`, `[v6]:port` → Target. The port of a name defaults to 80. */
export function parseTarget(path: string): Target {
  const bad = () =>
    new DestinationError(
      'LINNET_DESTINATION_BAD_PATH',
      `cannot look up ${JSON.stringify(path)}`,
      'ask for an authority name[:port] or an address ip:port / [ipv6]:port',
    );
  const t = path.trim();
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t);
  let host: string;
  let portText: string | undefined;
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const i = t.lastIndexOf(':');
    if (i >= 0 && t.indexOf(':') === i) {
      host = t.slice(0, i);
      portText = t.slice(i + 1);
    } else if (i < 0) {
      host = t;
    } else {
      throw bad();
    }
  }
  let port = 80;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw bad();
    port = Number(portText);
    if (port < 1 || port > 65535) throw bad();
  }
  if (isIP(host)) {
    if (portText === undefined) throw bad();
    return { kind: 'ip', ip: canonicalIp(host), port };
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.length > 253 || !NAME_RE.test(name)) throw bad();
  return { kind: 'name', name, port };
}

export function targetKey(t: Target): string {
  return t.kind === 'name' ? `${t.name}:${t.port}` : addrKey(t.ip, t.port);
}

export function addrKey(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** One endpoint as the API describes it. */
export interface ResolvedEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly identity?: string;
  readonly hint?: 'h2' | 'opaque';
  /** Set for a meshed endpoint on an opaque port: connect to its proxy's inbound port. */
  readonly opaqueTransportPort?: number;
}

export interface Resolution {
  /** Whether the destination is known (NoEndpoints.exists). */
  readonly exists: boolean;
  /** The service's name, or '' for an unknown destination or a bare endpoint. */
  readonly fqn: string;
  /** Whether the requested port is opaque. */
  readonly opaque: boolean;
  /** The requested port declares HTTP/1 or HTTP/2 (appProtocol): clients' proxies skip detection. */
  readonly protocol?: 'http1' | 'h2';
  readonly setLabels: Readonly<Record<string, string>>;
  /** Keyed by addrKey(ip, port). */
  readonly endpoints: ReadonlyMap<string, ResolvedEndpoint>;
  /** When the target was the address of one endpoint (not a virtual IP): that endpoint. */
  readonly single?: ResolvedEndpoint;
}

const UNKNOWN: Resolution = { exists: false, fqn: '', opaque: false, setLabels: {}, endpoints: new Map() };

function targetPortOf(e: MeshEndpoint, servicePort: number): number | undefined {
  if (e.portMap) return e.portMap.get(servicePort);
  return e.port ?? servicePort;
}

function describe(e: MeshEndpoint, targetPort: number, portOpaque: boolean): ResolvedEndpoint {
  const meshed = e.identity !== undefined;
  // A meshed endpoint's proxy forwards its opaque ports with no detection, so peers must know
  // them (to use opaque transport): the default list unless the workload says otherwise.
  const own = e.opaquePorts ?? (meshed ? DEFAULT_OPAQUE_PORTS : undefined);
  const opaque = portOpaque || (own?.has(targetPort) ?? false);
  return {
    ip: canonicalIp(e.ip),
    port: targetPort,
    weight: e.weight,
    labels: e.labels,
    ...(meshed ? { identity: e.identity } : {}),
    ...(opaque ? { hint: 'opaque' as const } : meshed ? { hint: 'h2' as const } : {}),
    ...(opaque && meshed ? { opaqueTransportPort: PROXY_INBOUND_PORT } : {}),
  };
}

function resolveService(s: MeshService, port: number): Resolution {
  // A port the service does not serve is treated as unknown, so the proxy falls back to the
  // original destination exactly as it would without the mesh.
  if (s.ports.length > 0 && !s.ports.includes(port)) return UNKNOWN;
  const opaque = s.opaquePorts.has(port);
  const endpoints = new Map<string, ResolvedEndpoint>();
  for (const e of s.endpoints) {
    const tp = targetPortOf(e, port);
    if (tp === undefined) continue;
    const r = describe(e, tp, opaque);
    endpoints.set(addrKey(r.ip, r.port), r);
  }
  const protocol = opaque ? undefined : s.httpPorts?.get(port);
  return { exists: true, fqn: s.name, opaque, ...(protocol ? { protocol } : {}), setLabels: s.labels, endpoints };
}

/** Looks a target up in a snapshot. Never throws; an unknown target resolves to exists=false. */
export function resolve(index: MeshIndex, target: Target): Resolution {
  if (target.kind === 'name') {
    const s = index.byName.get(target.name);
    return s ? resolveService(s, target.port) : UNKNOWN;
  }
  const vip = index.byVip.get(target.ip);
  if (vip) return resolveService(vip, target.port);
  for (const { service, endpoint } of index.byEndpointIp.get(target.ip) ?? []) {
    // The endpoint serves this port if it is its fixed/target port for some service port.
    let servicePort: number | undefined;
    if (endpoint.portMap) {
      for (const [sp, tp] of endpoint.portMap) if (tp === target.port) servicePort = sp;
      if (servicePort === undefined) continue;
    } else if (endpoint.port !== undefined) {
      if (endpoint.port !== target.port) continue;
      servicePort = service?.ports.length === 1 ? service.ports[0] : target.port;
    } else {
      if (service && service.ports.length > 0 && !service.ports.includes(target.port)) continue;
      servicePort = target.port;
    }
    const portOpaque = (service?.opaquePorts.has(servicePort!) ?? false) || (service?.opaquePorts.has(target.port) ?? false);
    const r = describe(endpoint, target.port, portOpaque);
    return {
      exists: true,
      fqn: '',
      opaque: r.hint === 'opaque',
      setLabels: service?.labels ?? {},
      endpoints: new Map([[addrKey(r.ip, r.port), r]]),
      single: r,
    };
  }
  return UNKNOWN;
}

/** An update as the API sends it, before it is turned into a protobuf object. */
export type DestinationUpdate =
  | { kind: 'add'; endpoints: ResolvedEndpoint[]; setLabels: Readonly<Record<string, string>>; protocol?: 'http1' | 'h2' }
  | { kind: 'remove'; addrs: { ip: string; port: number }[] }
  | { kind: 'noEndpoints'; exists: boolean };

function sameEndpoint(a: ResolvedEndpoint, b: ResolvedEndpoint): boolean {
  return (
    a.weight === b.weight &&
    a.identity === b.identity &&
    a.hint === b.hint &&
    a.opaqueTransportPort === b.opaqueTransportPort &&
    sameLabels(a.labels, b.labels)
  );
}

export function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

/**
 * The updates that take a client from `prev` (undefined: nothing sent yet) to `next`. The first
 * message is always sent; later ones only on change. Adds go before removes so that the client's
 * set never passes through empty while endpoints are replaced.
 */
export function diffResolutions(prev: Resolution | undefined, next: Resolution): DestinationUpdate[] {
  const all = [...next.endpoints.values()];
  if (prev === undefined) {
    return all.length > 0 ? [{ kind: 'add', endpoints: all, setLabels: next.setLabels, ...(next.protocol ? { protocol: next.protocol } : {}) }] : [{ kind: 'noEndpoints', exists: next.exists }];
  }
  if (next.endpoints.size === 0) {
    if (prev.endpoints.size > 0 || prev.exists !== next.exists) return [{ kind: 'noEndpoints', exists: next.exists }];
    return [];
  }
  const out: DestinationUpdate[] = [];
  // Set labels and the port's protocol travel with an add; when they change every endpoint is
  // re-added with them.
  const labelsChanged = !sameLabels(prev.setLabels, next.setLabels) || prev.protocol !== next.protocol;
  const added = labelsChanged
    ? all
    : all.filter((e) => {
        const old = prev.endpoints.get(addrKey(e.ip, e.port));
        return old === undefined || !sameEndpoint(old, e);
      });
  if (added.length > 0) out.push({ kind: 'add', endpoints: added, setLabels: next.setLabels, ...(next.protocol ? { protocol: next.protocol } : {}) });
  const removed: { ip: string; port: number }[] = [];
  for (const [k, e] of prev.endpoints) if (!next.endpoints.has(k)) removed.push({ ip: e.ip, port: e.port });
  if (removed.length > 0) out.push({ kind: 'remove', addrs: removed });
  return out;
}

/** Parses the `opaque-ports` annotation / list form: "25,587,8000-8100". Bad parts are reported. */
export function parsePortList(text: string): { ports: Set<number>; bad: string[] } {
  const ports = new Set<number>();
  const bad: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? (m[2] === undefined ? lo : Number(m[2])) : NaN;
    if (!m || lo < 1 || hi > 65535 || lo > hi || hi - lo > 65535) {
      bad.push(part);
      continue;
    }
    for (let p = lo; p <= hi; p++) ports.add(p);
  }
  return { ports, bad };
}
