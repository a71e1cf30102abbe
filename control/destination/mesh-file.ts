/**
 * The mesh file: one YAML document describing services, their endpoints, and the workloads that
 * may certify as an identity. Pure: text in, MeshState out, or a MeshFileError that lists every
 * problem with its path in the file (`services[0].endpoints[1].address: ...`).
 */
import { appProtocolKind, declaredHttp } from './app-protocol';
import { isIP } from 'node:net';
import { parseDocument } from 'yaml';
import { LinnetError } from '../../core/errors';
import { DEFAULT_WEIGHT, canonicalIp, parsePortList, type MeshEndpoint, type MeshService, type MeshState, type MeshWorkload } from './model';

export class MeshFileError extends LinnetError {
  readonly problems: readonly string[];
  constructor(file: string, problems: string[]) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
    super('LINNET_MESH_FILE_INVALID', `${file} is not a valid mesh file:\n  ${shown.join('\n  ')}${more}`, {
      hint: 'fix the listed entries; the format is in the README under "The mesh file"',
    });
    this.name = 'MeshFileError';
    this.problems = problems;
  }
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const MAX_WEIGHT = 1_000_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates a mesh file's text. `file` names it in errors. */
export function parseMeshFile(text: string, file = 'mesh file'): MeshState {
  const problems: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new MeshFileError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const root: unknown = doc.toJS() ?? {};
  if (!isObj(root)) throw new MeshFileError(file, ['(top level): expected a mapping with services and workloads']);

  const unknownKeys = (o: Obj, path: string, allowed: readonly string[]) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) problems.push(`${path}${path ? '.' : ''}${k}: unknown field (allowed: ${allowed.join(', ')})`);
  };
  const list = (v: unknown, path: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problems.push(`${path}: expected a list`);
      return [];
    }
    return v;
  };
  const port = (v: unknown, path: string): number | undefined => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    problems.push(`${path}: ${JSON.stringify(v)} is not a port (1-65535)`);
    return undefined;
  };
  const labels = (v: unknown, path: string): Record<string, string> => {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
      problems.push(`${path}: expected a mapping of label names to strings`);
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) problems.push(`${path}.${k}: label names are [a-zA-Z_][a-zA-Z0-9_]* (they become Prometheus labels dst_<name>)`);
      else if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
      else problems.push(`${path}.${k}: expected a string value`);
    }
    return out;
  };
  const identity = (v: unknown, path: string): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && NAME_RE.test(v)) return v;
    problems.push(`${path}: ${JSON.stringify(v)} is not an identity (a DNS-like name, e.g. web.demo.serviceaccount.identity.linnet.cluster.local)`);
    return undefined;
  };

  unknownKeys(root, '', ['services', 'workloads']);

  const services: MeshService[] = [];
  const names = new Map<string, string>();
  const vips = new Map<string, string>();
  list(root['services'], 'services').forEach((raw, i) => {
    const p = `services[${i}]`;
    if (!isObj(raw)) {
      problems.push(`${p}: expected a mapping with name, ports, endpoints`);
      return;
    }
    unknownKeys(raw, p, ['name', 'address', 'addresses', 'ports', 'opaquePorts', 'labels', 'endpoints']);
    let name = '';
    if (typeof raw['name'] !== 'string' || !NAME_RE.test(raw['name'].toLowerCase().replace(/\.$/, ''))) {
      problems.push(`${p}.name: ${JSON.stringify(raw['name'])} is not an authority name (e.g. web.demo.svc.cluster.local)`);
    } else {
      name = raw['name'].toLowerCase().replace(/\.$/, '');
      const dup = names.get(name);
      if (dup) problems.push(`${p}.name: ${name} is already the name of ${dup}`);
      names.set(name, p);
    }
    const addresses: string[] = [];
    const addrInputs: [unknown, string][] = [];
    if (raw['address'] !== undefined) addrInputs.push([raw['address'], `${p}.address`]);
    list(raw['addresses'], `${p}.addresses`).forEach((a, j) => addrInputs.push([a, `${p}.addresses[${j}]`]));
    for (const [a, ap] of addrInputs) {
      if (typeof a !== 'string' || isIP(a) === 0) {
        problems.push(`${ap}: ${JSON.stringify(a)} is not an IP address (the service's virtual IP, without a port)`);
        continue;
      }
      const c = canonicalIp(a);
      const dup = vips.get(c);
      if (dup) problems.push(`${ap}: ${a} is already the address of ${dup}`);
      vips.set(c, p);
      addresses.push(c);
    }
    const ports: number[] = [];
    const opaquePorts = new Set<number>();
    const httpPorts = new Map<number, 'http1' | 'h2'>();
    list(raw['ports'], `${p}.ports`).forEach((v, j) => {
      // A port is a number, or `{ port, appProtocol }` as on a Kubernetes Service.
      let n: number | undefined;
      if (isObj(v)) {
        unknownKeys(v, `${p}.ports[${j}]`, ['port', 'appProtocol', 'name']);
        n = port(v['port'], `${p}.ports[${j}].port`);
        if (v['appProtocol'] !== undefined && typeof v['appProtocol'] !== 'string') problems.push(`${p}.ports[${j}].appProtocol: ${JSON.stringify(v['appProtocol'])} is not a string (e.g. linkerd.io/opaque)`);
        else if (n !== undefined && appProtocolKind(v['appProtocol']) === 'opaque') opaquePorts.add(n);
        else if (n !== undefined) {
          const http = declaredHttp(appProtocolKind(v['appProtocol']));
          if (http) httpPorts.set(n, http);
        }
      } else {
        n = port(v, `${p}.ports[${j}]`);
      }
      if (n !== undefined && !ports.includes(n)) ports.push(n);
    });
    const op = raw['opaquePorts'];
    if (typeof op === 'string') {
      const r = parsePortList(op);
      for (const b of r.bad) problems.push(`${p}.opaquePorts: ${JSON.stringify(b)} is not a port or range`);
      r.ports.forEach((x) => opaquePorts.add(x));
    } else {
      list(op, `${p}.opaquePorts`).forEach((v, j) => {
        const n = port(v, `${p}.opaquePorts[${j}]`);
        if (n !== undefined) opaquePorts.add(n);
      });
    }
    const endpoints: MeshEndpoint[] = [];
    const seen = new Set<string>();
    list(raw['endpoints'], `${p}.endpoints`).forEach((e, j) => {
      const ep = `${p}.endpoints[${j}]`;
      if (!isObj(e)) {
        problems.push(`${ep}: expected a mapping with address, identity, labels`);
        return;
      }
      unknownKeys(e, ep, ['address', 'identity', 'labels', 'weight']);
      const parsed = parseEndpointAddress(e['address']);
      if (!parsed) {
        problems.push(`${ep}.address: ${JSON.stringify(e['address'])} is not ip:port, [ipv6]:port or a bare IP (then the service port is used)`);
        return;
      }
      const key = `${parsed.ip}/${parsed.port ?? '*'}`;
      if (seen.has(key)) problems.push(`${ep}.address: ${String(e['address'])} is listed twice`);
      seen.add(key);
      let weight = DEFAULT_WEIGHT;
      if (e['weight'] !== undefined) {
        const w = e['weight'];
        if (typeof w === 'number' && Number.isInteger(w) && w >= 1 && w <= MAX_WEIGHT) weight = w;
        else problems.push(`${ep}.weight: ${JSON.stringify(w)} is not a whole number 1-${MAX_WEIGHT}`);
      }
      const id = identity(e['identity'], `${ep}.identity`);
      endpoints.push({
        ip: parsed.ip,
        ...(parsed.port !== undefined ? { port: parsed.port } : {}),
        ...(id !== undefined ? { identity: id } : {}),
        // The service account an identity names, as Kubernetes discovery gives it; the file's own labels win.
        labels: { ...identityLabels(id), ...labels(e['labels'], `${ep}.labels`) },
        weight,
      });
    });
    // A Kubernetes-style name gives the set its service and namespace labels (dst_service,
    // dst_namespace), as Kubernetes discovery does; the file's own labels win.
    services.push({ name, addresses, ports, opaquePorts, ...(httpPorts.size > 0 ? { httpPorts } : {}), labels: { ...serviceLabels(name), ...labels(raw['labels'], `${p}.labels`) }, endpoints });
  });

  const workloads: MeshWorkload[] = [];
  list(root['workloads'], 'workloads').forEach((raw, i) => {
    const p = `workloads[${i}]`;
    if (!isObj(raw)) {
      problems.push(`${p}: expected a mapping with identity and token`);
      return;
    }
    unknownKeys(raw, p, ['identity', 'token', 'name']);
    const name = raw['name'];
    if (name !== undefined && (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))) {
      problems.push(`${p}.name: expected a DNS label (lower-case letters, digits and -), the workload's name in \`linnet viz\``);
    }
    const id = identity(raw['identity'], `${p}.identity`);
    if (raw['identity'] === undefined) problems.push(`${p}.identity: missing`);
    const token = raw['token'];
    if (typeof token !== 'string' || token.length < 8) {
      problems.push(`${p}.token: expected a string of at least 8 characters (the secret the workload presents)`);
      return;
    }
    if (id !== undefined) workloads.push({ identity: id, token, ...(typeof name === 'string' ? { name } : {}) });
  });

  if (problems.length > 0) throw new MeshFileError(file, problems);
  return { services, workloads };
}

/** `web.demo.svc.cluster.local` → service web, namespace demo; any other name: none. */
export function serviceLabels(name: string): Record<string, string> {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\./.exec(name);
  return m ? { service: m[1]!, namespace: m[3]! } : {};
}

/** `web.demo.serviceaccount.identity.…` → serviceaccount web; no identity or another shape: none. */
export function identityLabels(identity: string | undefined): Record<string, string> {
  const m = identity ? /^([^.]+)\.([^.]+)\.serviceaccount\.identity\./.exec(identity) : null;
  return m ? { serviceaccount: m[1]! } : {};
}

function parseEndpointAddress(v: unknown): { ip: string; port?: number } | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (isIP(t)) return { ip: canonicalIp(t) };
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([0-9.]+):(\d{1,5})$/.exec(t);
  if (!m || isIP(m[1]!) === 0) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { ip: canonicalIp(m[1]!), port };
}
