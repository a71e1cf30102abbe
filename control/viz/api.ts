/**
 * The viz service's HTTP API and the dashboard: JSON answers for `linnet viz` (stat, routes,
 * edges, proxies, a proxy's raw metrics, an authority's endpoints), server-sent events for the
 * dashboard (a frame after every round of scrapes), and the dashboard's files (its page and
 * uPlot from node_modules: nothing from the network at run time).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../core/parse';
import type { Logger } from '../../core/log';
import { authzRows } from './authz';
import { edgeRows } from './edges';
import type { ProxyTarget } from './inventory';
import { routeRows } from './routes';
import { knownNames, parseKind, parseRef, statRows, type Ref, type StatRow, type TargetWindow } from './stat';
import type { NamedTapEvent } from './tap-fanout';
import { tapLine } from './tap-format';

export interface VizBackend {
  windows(windowMs: number): TargetWindow[] | Promise<TargetWindow[]>;
  targets(): ProxyTarget[];
  raw(t: ProxyTarget): Promise<string>;
  onTick(fn: () => void): () => void;
  /** Endpoints discovery gives for an authority (diagnostics endpoints); undefined: no discovery here. */
  endpoints?(authority: string): unknown;
  /** The dashboard's sparklines: per workload, points of a short window at every round. */
  series(): Record<string, SeriesPoint[]>;
  /** Tap fan-out; undefined: this control plane has no identity to tap with. */
  tap?(req: TapApiRequest, signal: AbortSignal, onEvent: (e: NamedTapEvent) => void, onError: (message: string) => void): Promise<void>;
}

export interface TapApiRequest {
  targets: ProxyTarget[];
  toIps?: string[];
  path?: string;
  method?: string;
  authority?: string;
  maxRps?: number;
  limit?: number;
}

export interface SeriesPoint {
  t: number;
  rps?: number;
  successRate?: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

export const DEFAULT_WINDOW = '1m';

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
    readonly known?: string[],
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function windowMs(q: URLSearchParams): number {
  const w = q.get('window') ?? DEFAULT_WINDOW;
  let ms: number;
  try {
    ms = parseDuration('window', w);
  } catch {
    throw new BadRequest(`window ${JSON.stringify(w)} is not a duration such as 10s, 1m or 5m`);
  }
  if (!(ms > 0)) throw new BadRequest(`window ${JSON.stringify(w)} must be positive`);
  return ms;
}

function ref(q: URLSearchParams, key: string): Ref | undefined {
  const v = q.get(key);
  if (!v) return undefined;
  try {
    return parseRef(v);
  } catch (err) {
    throw new BadRequest(`${key}: ${(err as Error).message}`);
  }
}

function checkRef(r: Ref | undefined, windows: readonly TargetWindow[], what: string): void {
  if (!r) return;
  const known = knownNames(r.kind, windows);
  if (!known.includes(r.name)) throw new BadRequest(`${what} ${r.kind}/${r.name} not found`, 404, known);
}

/** Everything the dashboard shows, as one frame. */
export function frame(windows: readonly TargetWindow[], backend: VizBackend, windowText: string) {
  return {
    at: Date.now(),
    window: windowText,
    deploy: statRows({ kind: 'deploy' }, windows),
    pods: statRows({ kind: 'pod' }, windows).map((r: StatRow) => ({ ...r, workload: windows.find((w) => w.target.pod === r.name)?.target.workload })),
    authorities: statRows({ kind: 'authority' }, windows),
    routes: [...new Set(windows.map((w) => w.target.workload))].sort().flatMap((wl) => routeRows({ ref: { kind: 'deploy', name: wl } }, windows).map((r) => ({ ...r, workload: wl }))),
    edges: edgeRows('deploy', windows),
    series: backend.series(),
  };
}

function dashboardDir(): string {
  const candidates = [join(__dirname, 'dashboard'), join(__dirname, '..', '..', '..', 'control', 'viz', 'dashboard')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

const STATIC: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => join(dashboardDir(), 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: () => join(dashboardDir(), 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: () => join(dashboardDir(), 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface VizApi {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startVizApi(addr: string, backend: VizBackend, log: Logger, extra?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean): Promise<VizApi> {
  const sse = new Set<ServerResponse>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://viz');
    const q = url.searchParams;
    if (req.method !== 'GET') return json(res, 405, { error: 'use GET' });
    const st = STATIC[url.pathname === '/index.html' ? '/' : url.pathname];
    if (st) {
      const body = readFileSync(st.file());
      res.writeHead(200, { 'content-type': st.type, 'content-length': body.length });
      return void res.end(body);
    }
    if (extra?.(req, res, url)) return;
    switch (url.pathname) {
      case '/healthz':
        return json(res, 200, { ok: true });
      case '/api/stat': {
        const kindText = q.get('kind') ?? 'deploy';
        const kind = parseKind(kindText);
        if (!kind) throw new BadRequest(`unknown resource type ${JSON.stringify(kindText)}`, 400, ['deploy', 'pod', 'authority']);
        const ms = windowMs(q);
        const windows = await backend.windows(ms);
        const from = ref(q, 'from');
        const to = ref(q, 'to');
        checkRef(from, windows, '--from');
        checkRef(to, windows, '--to');
        const name = q.get('name') ?? undefined;
        if (name !== undefined && !knownNames(kind, windows).includes(name)) throw new BadRequest(`${kind}/${name} not found`, 404, knownNames(kind, windows));
        return json(res, 200, { window: q.get('window') ?? DEFAULT_WINDOW, rows: statRows({ kind, ...(name !== undefined ? { name } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) }, windows) });
      }
      case '/api/routes': {
        const r = ref(q, 'ref');
        if (!r) throw new BadRequest('routes needs ref=deploy/NAME');
        const windows = await backend.windows(windowMs(q));
        checkRef(r, windows, 'resource');
        const to = ref(q, 'to');
        checkRef(to, windows, '--to');
        return json(res, 200, { window: q.get('window') ?? DEFAULT_WINDOW, rows: routeRows({ ref: r, ...(to ? { to } : {}) }, windows) });
      }
      case '/api/edges': {
        const kind = parseKind(q.get('kind') ?? 'deploy');
        if (kind !== 'deploy' && kind !== 'pod') throw new BadRequest(`edges are between deploy or pod, not ${JSON.stringify(q.get('kind'))}`, 400, ['deploy', 'pod']);
        return json(res, 200, { rows: edgeRows(kind, await backend.windows(windowMs(q))) });
      }
      case '/api/authz': {
        const r = ref(q, 'ref');
        if (!r) throw new BadRequest('authz needs ref=deploy/NAME or pod/NAME');
        const windows = await backend.windows(windowMs(q));
        checkRef(r, windows, 'resource');
        return json(res, 200, { window: q.get('window') ?? DEFAULT_WINDOW, rows: authzRows(r, windows) });
      }
      case '/api/proxies': {
        const windows = await backend.windows(windowMs(q));
        return json(res, 200, { proxies: windows.map((w) => ({ ...w.target, up: w.up, ...(w.error ? { error: w.error } : {}), lastScrape: w.cur?.at })) });
      }
      case '/api/prometheus-sd': {
        // Prometheus' http_sd_configs: every proxy's admin port with the labels Linkerd's
        // dashboards group by (namespace, deployment, pod).
        return json(
          res,
          200,
          backend.targets().map((t) => ({ targets: [t.admin], labels: { namespace: t.namespace, deployment: t.workload, pod: t.pod, ...(t.identity ? { linnet_io_identity: t.identity } : {}) } })),
        );
      }
      case '/api/tap': {
        const r = ref(q, 'resource');
        if (!r) throw new BadRequest('tap needs resource=deploy/NAME or pod/NAME');
        const windows = await backend.windows(60_000);
        checkRef(r, windows, 'resource');
        const to = ref(q, 'to');
        checkRef(to, windows, '--to');
        if (!backend.tap) throw new BadRequest('this viz service cannot tap: linnet control runs without identity (--identity-dir), so it has no tap certificate', 501);
        const num = (k: string) => {
          const v = q.get(k);
          if (v === null) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n <= 0) throw new BadRequest(`${k} must be a positive integer, not ${JSON.stringify(v)}`);
          return n;
        };
        const maxRps = num('max_rps');
        const limit = num('limit');
        const method = q.get('method') ?? undefined;
        if (method !== undefined && !/^[A-Za-z]+$/.test(method)) throw new BadRequest(`method must be a name such as GET, not ${JSON.stringify(method)}`);
        const pick = (x: Ref) => windows.filter((w) => (x.kind === 'deploy' ? w.target.workload : w.target.pod) === x.name).map((w) => w.target);
        const abort = new AbortController();
        req.on('close', () => abort.abort());
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': tapping\n\n');
        await backend.tap(
          {
            targets: pick(r),
            ...(to ? { toIps: pick(to).map((t) => t.ip) } : {}),
            ...(q.get('path') ? { path: q.get('path')! } : {}),
            ...(method ? { method } : {}),
            ...(q.get('authority') ? { authority: q.get('authority')! } : {}),
            ...(maxRps ? { maxRps } : {}),
            ...(limit ? { limit } : {}),
          },
          abort.signal,
          (e) => res.write(`event: line\ndata: ${JSON.stringify({ line: tapLine(e), event: e })}\n\n`),
          (message) => res.write(`event: tap-error\ndata: ${JSON.stringify({ error: message })}\n\n`),
        );
        res.write('event: end\ndata: {}\n\n');
        return void res.end();
      }
      case '/api/proxy-metrics': {
        const want = q.get('pod') ?? '';
        const targets = backend.targets();
        const t = targets.find((x) => x.pod === want || x.ip === want || x.admin === want);
        if (!t) throw new BadRequest(`pod ${JSON.stringify(want)} not found`, 404, targets.map((x) => `${x.pod} (${x.ip})`));
        const text = await backend.raw(t);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        return void res.end(text);
      }
      case '/api/endpoints': {
        const authority = q.get('authority') ?? '';
        if (!backend.endpoints) throw new BadRequest('this viz service has no discovery source', 501);
        return json(res, 200, backend.endpoints(authority));
      }
      case '/api/events': {
        const text = q.get('window') ?? DEFAULT_WINDOW;
        const ms = windowMs(q);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        const send = async () => {
          const f = frame(await backend.windows(ms), backend, text);
          res.write(`event: frame\ndata: ${JSON.stringify(f)}\n\n`);
        };
        sse.add(res);
        const off = backend.onTick(() => void send().catch(() => undefined));
        req.on('close', () => {
          off();
          sse.delete(res);
        });
        await send();
        return;
      }
    }
    json(res, 404, { error: `no such path ${url.pathname}`, known: ['/', '/api/stat', '/api/routes', '/api/edges', '/api/authz', '/api/proxies', '/api/proxy-metrics', '/api/endpoints', '/api/events', '/api/tap', '/api/prometheus-sd'] });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof BadRequest) return json(res, err.status, { error: err.message, ...(err.known ? { known: err.known } : {}) });
      log.warn('viz request failed', { path: req.url, error: String(err) });
      if (!res.headersSent) json(res, 500, { error: String((err as Error).message ?? err) });
      else res.destroy();
    });
  });
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(Number(addr.slice(i + 1)), host, () => ok());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((ok) => {
        for (const r of sse) r.end();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
