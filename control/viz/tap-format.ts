/**
 * Tap, pure parts: the match a `linnet viz tap` asks for, Linkerd's line format for each event
 * (`req id=… proxy=in src=… dst=… tls=… :method=… :authority=… :path=…`, `rsp … :status=…
 * latency=…µs`, `end … grpc-status=… duration=…µs response-length=…B`), and `top`'s table of the
 * most frequent paths.
 */
import type { TapEvent, TapMatch } from './tap-client';

export interface TapQuery {
  /** only requests to these IPs (the --to resource's pods) */
  toIps?: readonly string[];
  /** path prefix */
  path?: string;
  method?: string;
  authority?: string;
}

export function tapMatch(q: TapQuery): TapMatch | undefined {
  const all: TapMatch[] = [];
  if (q.toIps && q.toIps.length > 0) {
    const nets = q.toIps.map((ip): TapMatch => ({ destination: { net: ip.includes(':') ? `${ip}/128` : `${ip}/32` } }));
    all.push(nets.length === 1 ? nets[0]! : { any: nets });
  }
  if (q.path) all.push({ path: { prefix: q.path } });
  if (q.method) all.push({ method: q.method.toUpperCase() });
  if (q.authority) all.push({ authority: { exact: q.authority } });
  if (all.length === 0) return undefined;
  return all.length === 1 ? all[0] : { all };
}

const GRPC_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];
export const grpcName = (code: number) => GRPC_NAMES[code] ?? `Code(${code})`;

const addr = (a: { ip: string; port: number }) => (a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`);

/** Whether the hop the event describes was mTLS, as Linkerd prints it (`tls=true`, else the reason or `false`). */
export function tlsOf(e: TapEvent): string {
  const labels = e.direction === 'inbound' ? e.sourceLabels : e.destinationLabels;
  return labels['tls'] ?? 'false';
}

/** One event as a line of `linkerd viz tap`. */
export function tapLine(e: TapEvent): string {
  const h = e.http;
  const head = `id=${h.id.base}:${h.id.stream} proxy=${e.direction === 'inbound' ? 'in ' : 'out'} src=${addr(e.source)} dst=${addr(e.destination)} tls=${tlsOf(e)}`;
  switch (h.kind) {
    case 'request_init':
      return `req ${head} :method=${h.method} :authority=${h.authority} :path=${h.path}`;
    case 'response_init':
      return `rsp ${head} :status=${h.status} latency=${h.sinceRequestInitUs}µs`;
    case 'response_end': {
      const eos = h.resetErrorCode !== undefined ? ` reset-error=${h.resetErrorCode}` : h.grpcStatus !== undefined ? ` grpc-status=${grpcName(h.grpcStatus)}` : '';
      return `end ${head}${eos} duration=${h.sinceResponseInitUs}µs response-length=${h.responseBytes}B`;
    }
  }
}

/** `top`: requests grouped by source, destination, method and path. */
export interface TopRow {
  source: string;
  destination: string;
  method: string;
  path: string;
  count: number;
  /** µs, request start to response end */
  best: number;
  worst: number;
  last: number;
  successes: number;
  failures: number;
}

/** Folds tap events into top's rows; `name` turns an IP into a pod name. */
export class TopTable {
  private readonly open = new Map<string, { key: string; status?: number }>();
  readonly rows = new Map<string, TopRow>();

  constructor(private readonly name: (ip: string) => string = (ip) => ip) {}

  add(e: TapEvent & { proxyAddr?: string }): void {
    const h = e.http;
    const sid = `${e.proxyAddr ?? ''} ${e.direction} ${h.id.base}:${h.id.stream}`;
    if (h.kind === 'request_init') {
      const key = [this.name(e.source.ip), this.name(e.destination.ip), h.method, h.path].join('\0');
      if (!this.rows.has(key)) {
        const [source, destination, method, path] = key.split('\0') as [string, string, string, string];
        this.rows.set(key, { source, destination, method, path, count: 0, best: Infinity, worst: 0, last: 0, successes: 0, failures: 0 });
      }
      this.open.set(sid, { key });
      return;
    }
    const o = this.open.get(sid);
    if (!o) return;
    if (h.kind === 'response_init') {
      o.status = h.status;
      return;
    }
    this.open.delete(sid);
    const r = this.rows.get(o.key)!;
    const us = h.sinceRequestInitUs;
    r.count++;
    r.best = Math.min(r.best, us);
    r.worst = Math.max(r.worst, us);
    r.last = us;
    const ok = h.resetErrorCode === undefined && (o.status ?? 0) > 0 && (o.status ?? 0) < 500 && (h.grpcStatus === undefined || h.grpcStatus === 0);
    if (ok) r.successes++;
    else r.failures++;
  }

  /** Most frequent first. */
  sorted(): TopRow[] {
    return [...this.rows.values()].filter((r) => r.count > 0).sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
  }
}

const dur = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(us >= 10_000 ? 0 : 1)}ms` : `${us}µs`);

export function renderTop(rows: readonly TopRow[]): string {
  const header = ['Source', 'Destination', 'Method', 'Path', 'Count', 'Best', 'Worst', 'Last', 'Success Rate'];
  const cells = rows.map((r) => [r.source, r.destination, r.method, r.path, String(r.count), dur(r.best), dur(r.worst), dur(r.last), `${((r.successes / r.count) * 100).toFixed(2)}%`]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i < 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}
