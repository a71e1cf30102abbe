/**
 * Parsers for the value forms used in LINNET_PROXY_* variables and in `linnet init` flags.
 * Pure: each takes the variable's name (for the error) and its text, and returns a typed value
 * or throws ConfigError naming the variable and the accepted form.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors';

const DURATION_FORM = 'a duration such as 300ms, 10s, 2m or 1h (a bare number is milliseconds)';
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `300ms`, `10s`, `2m`, `1h`, or a bare number of milliseconds → milliseconds. */
export function parseDuration(variable: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new ConfigError(variable, text, DURATION_FORM);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms)) throw new ConfigError(variable, text, DURATION_FORM);
  return Math.round(ms);
}

const PORT_FORM = 'a TCP port, 1-65535';

export function parsePort(variable: string, text: string): number {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t)) throw new ConfigError(variable, text, PORT_FORM);
  const n = Number(t);
  if (n < 1 || n > 65535) throw new ConfigError(variable, text, PORT_FORM);
  return n;
}

/** An inclusive range of ports; a single port has lo === hi. */
export interface PortRange {
  lo: number;
  hi: number;
}

const PORT_LIST_FORM = 'comma-separated ports or ranges, e.g. 25,587,8000-8100 (each 1-65535)';

/** `25,587,8000-8100` → ranges, in the order given, duplicates kept out. Empty text → []. */
export function parsePortRanges(variable: string, text: string): PortRange[] {
  const out: PortRange[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (!m) throw new ConfigError(variable, text, PORT_LIST_FORM);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || lo > hi) throw new ConfigError(variable, text, PORT_LIST_FORM);
    const key = `${lo}-${hi}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ lo, hi });
    }
  }
  return out;
}

/** A set of ports for fast membership tests on the hot path. */
export function portSet(ranges: readonly PortRange[]): ReadonlySet<number> {
  const s = new Set<number>();
  for (const { lo, hi } of ranges) for (let p = lo; p <= hi; p++) s.add(p);
  return s;
}

export interface SocketAddr {
  host: string;
  port: number;
  family: 4 | 6;
}

const ADDR_FORM = 'HOST:PORT with an IP address, e.g. 0.0.0.0:4143 or [::]:4143';

/** `0.0.0.0:4143`, `[::1]:4191` → {host, port, family}. Hosts must be IP literals. */
export function parseSocketAddr(variable: string, text: string): SocketAddr {
  const t = text.trim();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(t) ?? /^([0-9.]+):(\d+)$/.exec(t);
  if (!m) throw new ConfigError(variable, text, ADDR_FORM);
  const family = isIP(m[1]!);
  if (family === 0) throw new ConfigError(variable, text, ADDR_FORM);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new ConfigError(variable, text, ADDR_FORM);
  return { host: m[1]!, port, family: family as 4 | 6 };
}

/** `host:port` where host may be a DNS name (control-plane addresses). */
export function parseHostPort(variable: string, text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(t) ?? /^([A-Za-z0-9.-]+):(\d+)$/.exec(t);
  const form = 'HOST:PORT, e.g. linnet-dst.linnet.svc.cluster.local:8086 or 10.0.0.1:8086';
  if (!m) throw new ConfigError(variable, text, form);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(variable, text, form);
  return { host: m[1]!, port };
}

export function parsePositiveInt(variable: string, text: string, max: number): number {
  const t = text.trim();
  const form = `a whole number from 1 to ${max}`;
  if (!/^\d+$/.test(t)) throw new ConfigError(variable, text, form);
  const n = Number(t);
  if (n < 1 || n > max) throw new ConfigError(variable, text, form);
  return n;
}

export function parseIntInRange(variable: string, text: string, min: number, max: number): number {
  const t = text.trim();
  const form = `a whole number from ${min} to ${max}`;
  if (!/^\d+$/.test(t)) throw new ConfigError(variable, text, form);
  const n = Number(t);
  if (n < min || n > max) throw new ConfigError(variable, text, form);
  return n;
}

export function parseEnum<T extends string>(variable: string, text: string, allowed: readonly T[]): T {
  const t = text.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(t)) return t as T;
  throw new ConfigError(variable, text, `one of ${allowed.join('|')}`);
}

export function parseBool(variable: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  throw new ConfigError(variable, text, 'true or false');
}
