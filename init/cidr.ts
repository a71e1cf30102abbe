/**
 * CIDR parsing for `--subnets-to-ignore`. Pure. The result is written the way iptables-save
 * prints it (network address with host bits cleared, always with the prefix, IPv6 compressed as
 * glibc's inet_ntop does), so a planned rule and the rule read back compare as equal text.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../core/errors';

export interface Cidr {
  family: 4 | 6;
  /** Network address, host bits cleared. */
  address: string;
  prefix: number;
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

const CIDR_FORM = 'comma-separated IP networks, e.g. 10.0.0.0/8,192.168.1.7/32,fd00::/8 (a bare address is one host)';

/** `10.1.2.3/8` → 10.0.0.0/8; a bare address gets /32 or /128. */
export function parseCidr(variable: string, text: string, whole: string = text): Cidr {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const family = isIP(addr);
  // isIP takes IPv6 zone indexes (fe80::1%eth0); a network has none, and the digits parser below
  // would throw a RangeError on one (fuzz finding).
  if (family === 0 || addr.includes('%')) throw new ConfigError(variable, whole, CIDR_FORM);
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new ConfigError(variable, whole, CIDR_FORM);
    prefix = Number(p);
  }
  if (family === 4) {
    const n = v4ToInt(addr);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { family: 4, address: intToV4((n & mask) >>> 0), prefix };
  }
  const n = v6ToBigInt(addr);
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  return { family: 6, address: bigIntToV6(n & mask), prefix };
}

/** A comma-separated list; duplicates (after normalising) are kept out. Empty text → []. */
export function parseCidrList(variable: string, text: string): Cidr[] {
  const out: Cidr[] = [];
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const c = parseCidr(variable, part, text);
    const key = formatCidr(c);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(c);
    }
  }
  return out;
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** isIP has already accepted `a`, so only the forms Node accepts reach here. */
function v6ToBigInt(a: string): bigint {
  let text = a;
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4ToInt(dotted[1]!);
    text = text.slice(0, dotted.index) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** As glibc inet_ntop: longest run (≥2) of zero groups becomes `::`, v4-mapped keeps a dotted quad. */
function bigIntToV6(n: bigint): string {
  const w: number[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      cur = cur.base < 0 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = { ...cur };
    } else cur = { base: -1, len: 0 };
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && w[5] === 0xffff))) {
      s += `${w[6]! >> 8}.${w[6]! & 255}.${w[7]! >> 8}.${w[7]! & 255}`;
      return s;
    }
    s += w[i]!.toString(16);
  }
  if (best.base >= 0 && best.base + best.len === 8) s += ':';
  return s;
}
