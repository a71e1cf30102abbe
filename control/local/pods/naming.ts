/**
 * Pure naming and addressing for test clusters, kept apart from the `ip` calls so it is unit-tested.
 *
 * A cluster is `lnp<pid>x<rand4>`: the creating process's pid lets the sweeper tell a crashed
 * run's namespaces (pid gone) from a parallel run's live ones (pid alive), and the random part
 * keeps two clusters of one process apart. Namespaces are `<cluster>-node` and `<cluster>-<pod>`.
 */
import { randomBytes, randomInt } from 'node:crypto';

export const CLUSTER_PREFIX = 'lnp';

export interface Subnet {
  /** First three octets, e.g. [10, 37, 201]. */
  readonly base: readonly [number, number, number];
}

export function newClusterId(pid: number = process.pid): string {
  return `${CLUSTER_PREFIX}${pid}x${randomBytes(2).toString('hex')}`;
}

/** 10.x.y.0/24 with random x, y; x avoids 0 and 96 (the demo's virtual-IP range in DESIGN.md). */
export function randomSubnet(): Subnet {
  let x = randomInt(1, 255);
  if (x === 96) x = 97;
  return { base: [10, x, randomInt(0, 256)] };
}

/** .1 is the bridge (the pods' gateway); pod n (0-based) is .(10+n). */
export function bridgeAddress(s: Subnet): string {
  return `${s.base.join('.')}.1`;
}

export function podAddress(s: Subnet, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 240) throw new RangeError(`pod index ${index} out of range 0..240`);
  return `${s.base.join('.')}.${10 + index}`;
}

const POD_NAME = /^[a-z][a-z0-9]{0,15}$/;

export function isValidPodName(name: string): boolean {
  return POD_NAME.test(name) && name !== 'node';
}

export function namespaceName(clusterId: string, role: string): string {
  return `${clusterId}-${role}`;
}

/** The host-side veth in the node namespace: short, because interface names are at most 15 bytes. */
export function hostVethName(index: number): string {
  return `veth${index}`;
}

/**
 * For a namespace name, the pid of the process that made its cluster, or undefined when the name
 * is not one of ours (so the sweeper leaves it alone).
 */
export function ownerPid(namespace: string): number | undefined {
  const m = /^lnp(\d+)x[0-9a-f]{4}-[a-z][a-z0-9]*$/.exec(namespace);
  return m ? Number(m[1]) : undefined;
}
