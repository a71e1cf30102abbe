/**
 * Whether a request matches a tap: pure, no sockets. A match from the wire (core/api/tap.ts has
 * checked its shape) is compiled once into a predicate, networks parsed to integers, so that
 * testing a request costs a few comparisons while a tap is open and nothing while none is.
 */
import { netContains, parseIp, parseNet, type Ip } from '../../core/policy/net';
import type { TapMatch, TapStringMatch, TapTcpMatch } from '../../core/api/tap';

/** What a match reads of one request. */
export interface TapView {
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  /** Upper-case, as sent. */
  method: string;
  /** `http` or `https`. */
  scheme: string;
  authority: string;
  /** The path without its query. */
  path: string;
  destinationLabels: Readonly<Record<string, string>>;
  routeLabels: Readonly<Record<string, string>>;
}

export type TapPredicate = (v: TapView) => boolean;

const always: TapPredicate = () => true;

/** Compiles a match; absent matches everything. All of nothing is true, any of nothing false (as tap.proto's Seq). */
export function compileMatch(m: TapMatch | undefined): TapPredicate {
  if (m === undefined) return always;
  if ('all' in m) {
    const parts = m.all.map(compileMatch);
    return (v) => parts.every((p) => p(v));
  }
  if ('any' in m) {
    const parts = m.any.map(compileMatch);
    return (v) => parts.some((p) => p(v));
  }
  if ('not' in m) {
    const inner = compileMatch(m.not);
    return (v) => !inner(v);
  }
  if ('source' in m) return tcp(m.source, (v) => v.sourceIp, (v) => v.sourcePort);
  if ('destination' in m) return tcp(m.destination, (v) => v.destinationIp, (v) => v.destinationPort);
  if ('scheme' in m) {
    const s = m.scheme.toLowerCase();
    return (v) => v.scheme === s;
  }
  if ('method' in m) {
    const meth = m.method.toUpperCase();
    return (v) => v.method.toUpperCase() === meth;
  }
  if ('authority' in m) {
    // Host names compare case-insensitively.
    const test = text(lower(m.authority));
    return (v) => test(v.authority.toLowerCase());
  }
  if ('path' in m) {
    const test = text(m.path);
    return (v) => test(v.path);
  }
  if ('destinationLabel' in m) {
    const { key, value } = m.destinationLabel;
    return (v) => v.destinationLabels[key] === value;
  }
  const { key, value } = m.routeLabel;
  return (v) => v.routeLabels[key] === value;
}

function lower(s: TapStringMatch): TapStringMatch {
  return 'exact' in s ? { exact: s.exact.toLowerCase() } : { prefix: s.prefix.toLowerCase() };
}

function text(s: TapStringMatch): (t: string) => boolean {
  if ('exact' in s) {
    const e = s.exact;
    return (t) => t === e;
  }
  const p = s.prefix;
  return (t) => t.startsWith(p);
}

function tcp(t: TapTcpMatch, ip: (v: TapView) => string, port: (v: TapView) => number): TapPredicate {
  if ('ports' in t) {
    const { min, max } = t.ports;
    return (v) => {
      const p = port(v);
      return p >= min && p <= max;
    };
  }
  const net = parseNet(t.net);
  return (v) => {
    const a: Ip | undefined = parseIp(ip(v));
    return a !== undefined && netContains(net, a);
  };
}
