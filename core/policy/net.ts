/**
 * IP addresses and networks for authorization: parsed once into numbers (IPv4 as 32 bits, IPv6
 * as 128, both as bigint) so that matching a client against a policy is integer arithmetic, not
 * string work per connection. An IPv4-mapped IPv6 address (`::ffff:10.1.0.7`, what a dual-stack
 * listener reports) is the IPv4 address it carries.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LinnetError } from '../errors';

export class NetError extends LinnetError {
  constructor(message: string) {
    super('LINNET_POLICY_NETWORK_INVALID', message, { hint: 'write a network as ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8' });
    this.name = 'NetError';
  }
}

export interface Ip {
  family: 4 | 6;
  value: bigint;
}

export interface IpNet {
  family: 4 | 6;
  /** The network address with host bits cleared. */
  base: bigint;
  prefix: number;
}

/** Parses an address literal (brackets allowed for IPv6); undefined when it is not one. */
export function parseIp(text: string): Ip | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (isIPv4(t)) return { family: 4, value: v4(t) };
  if (!isIPv6(t)) return undefined;
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  const value = v6(t);
  // ::ffff:a.b.c.d: the IPv4 client of a dual-stack socket.
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function v4(t: string): bigint {
  return t.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function v6(t: string): bigint {
  let head = t;
  let tailV4: string | undefined;
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    tailV4 = t.slice(lastColon + 1);
    head = t.slice(0, lastColon + 1) + '0:0';
  }
  const [l, r] = head.includes('::') ? head.split('::') : [head, undefined];
  const left = l ? l.split(':') : [];
  const right = r !== undefined && r !== '' ? r.split(':') : [];
  const fill = r === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const groups = [...left, ...fill, ...right];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  if (tailV4) value = (value & ~0xffffffffn) | v4(tailV4);
  return value;
}

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

/** Parses `ADDRESS/PREFIX` (a bare address is a /32 or /128); throws NetError with the reason. */
export function parseNet(text: string): IpNet {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const ip = isIPv4(addr.trim()) || isIPv6(addr.trim().replace(/^\[|\]$/g, '')) ? parseIp(addr) : undefined;
  if (!ip) throw new NetError(`${JSON.stringify(text)} is not a network: ${JSON.stringify(addr)} is not an IP address`);
  // A mapped literal written as IPv6 stays IPv6-width so its prefix reads as written.
  const family: 4 | 6 = isIPv4(addr.trim()) ? 4 : 6;
  const value = family === 6 && ip.family === 4 ? ip.value | 0xffff00000000n : ip.value;
  const max = bits(family);
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new NetError(`${JSON.stringify(text)} is not a network: prefix ${JSON.stringify(p)} is not 0-${max}`);
    prefix = Number(p);
  }
  return normalize({ family, base: value & mask(family, prefix), prefix });
}

/** A ::ffff:0:0/96-or-longer network is the IPv4 network inside it, as clients are mapped the same way. */
function normalize(n: IpNet): IpNet {
  if (n.family === 6 && n.prefix >= 96 && n.base >> 32n === 0xffffn) return { family: 4, base: n.base & 0xffffffffn, prefix: n.prefix - 96 };
  return n;
}

function mask(family: 4 | 6, prefix: number): bigint {
  const width = BigInt(bits(family));
  const all = (1n << width) - 1n;
  return prefix === 0 ? 0n : (all >> (width - BigInt(prefix))) << (width - BigInt(prefix));
}

export function netContains(net: IpNet, ip: Ip): boolean {
  return net.family === ip.family && (ip.value & mask(net.family, net.prefix)) === net.base;
}

export function formatNet(n: IpNet): string {
  if (n.family === 4) {
    const v = n.base;
    return `${[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 255n)).join('.')}/${n.prefix}`;
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n.base >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}/${n.prefix}`;
}

export const ALL_NETWORKS: readonly IpNet[] = Object.freeze([parseNet('0.0.0.0/0'), parseNet('::/0')]);

/** Linkerd's default cluster networks (`clusterNetworks`). */
export const DEFAULT_CLUSTER_NETWORKS = '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8';

export function parseNetList(text: string): IpNet[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseNet);
}
