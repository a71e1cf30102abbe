/**
 * Which proxies the viz service looks at, and what to call them. Pure. In the embedded mode a
 * proxy is known from the mesh file (a meshed endpoint: its IP, identity and `labels.pod`) or from
 * the identity service (the IP it called Certify from); its workload is the mesh file's `name` for
 * that identity, by default the identity's service-account part, and its namespace the identity's.
 */
import type { MeshState } from '../destination/model';

export const ADMIN_PORT = 4191;

export interface ProxyTarget {
  /** the pod's IP */
  ip: string;
  /** where its admin server answers: ip:4191 */
  admin: string;
  workload: string;
  namespace: string;
  /** the pod's name: the endpoint's `pod` label, else its IP */
  pod: string;
  /** its identity, when meshed with one */
  identity?: string;
}

/** `<sa>.<ns>.serviceaccount.identity.<control-ns>.<trust-domain>` → { sa, ns }. */
export function identityParts(identity: string): { sa: string; ns: string } | undefined {
  const m = /^([^.]+)\.([^.]+)\.serviceaccount\.identity\./.exec(identity);
  return m ? { sa: m[1]!, ns: m[2]! } : undefined;
}

export function workloadOf(identity: string, mesh: Pick<MeshState, 'workloads'> | undefined): string {
  const named = mesh?.workloads.find((w) => w.identity === identity)?.name;
  return named ?? identityParts(identity)?.sa ?? identity;
}

/** In Kubernetes a pod is named by its owner (the labels discovery gives it, from the injector's). */
const OWNER_KINDS = ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicaset', 'replicationcontroller'];
const ownerOf = (labels: Readonly<Record<string, string>>) => OWNER_KINDS.map((k) => labels[k]).find((v) => v !== undefined && v !== '');

const adminAddr = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

export interface Certified {
  identity: string;
  address?: string;
  certifiedAt: number;
}

/**
 * Every proxy known, once per IP (a mesh-file endpoint first: it names the pod; a newer
 * certificate for the same IP wins over an older one: the pod was replaced).
 */
export function buildInventory(mesh: MeshState | undefined, certified: readonly Certified[], adminPort = ADMIN_PORT): ProxyTarget[] {
  const byIp = new Map<string, ProxyTarget>();
  const target = (ip: string, identity: string, pod?: string, labels: Readonly<Record<string, string>> = {}): ProxyTarget => ({
    ip,
    admin: adminAddr(ip, adminPort),
    workload: ownerOf(labels) ?? workloadOf(identity, mesh),
    namespace: identityParts(identity)?.ns ?? 'default',
    pod: pod ?? ip,
    identity,
  });
  for (const svc of mesh?.services ?? []) {
    for (const e of svc.endpoints) {
      if (!e.identity || byIp.has(e.ip)) continue;
      byIp.set(e.ip, target(e.ip, e.identity, e.labels['pod'], e.labels));
    }
  }
  const latest = new Map<string, Certified>();
  for (const c of certified) {
    if (!c.address) continue;
    const had = latest.get(c.address);
    if (!had || had.certifiedAt < c.certifiedAt) latest.set(c.address, c);
  }
  for (const [ip, c] of latest) {
    const had = byIp.get(ip);
    if (had && had.identity === c.identity) continue;
    byIp.set(ip, target(ip, c.identity));
  }
  return [...byIp.values()].sort((a, b) => a.workload.localeCompare(b.workload) || a.pod.localeCompare(b.pod));
}
