/**
 * `linnet viz`: Linkerd's viz CLI against the viz service of `linnet control` (stat, routes,
 * edges, dashboard). Every subcommand reads the service's HTTP API (client.ts); the tables are
 * rendered by render.ts.
 */
import { parseArgs } from 'node:util';
import { createServer, request } from 'node:http';
import type { Command } from '../../core/command';
import { LinnetError } from '../../core/errors';
import { parseDuration } from '../../core/parse';
import { baseUrl, DEFAULT_VIZ_ADDR, vizAddr, vizEvents, vizGet, vizJson } from './client';
import type { NamedTapEvent } from './tap-fanout';
import { renderTop, TopTable } from './tap-format';
import { authzCommand } from './authz-command';
import type { EdgeRow } from './edges';
import { renderDown, renderEdges, renderRoutes, renderStat, type Output } from './render';
import type { RouteRow } from './routes';
import { parseKind, parseRef, type StatRow } from './stat';

const usage = `usage: linnet viz <command> [options]

Looks at the mesh through the viz service of \`linnet control\` (default ${DEFAULT_VIZ_ADDR}).

commands:
  stat deploy|pod|authority [NAME]   golden metrics per workload, pod or authority:
                                     NAME MESHED SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN
                                     (also \`stat deploy/NAME\`)
  routes deploy/NAME|pod/NAME        per route: ROUTE SERVICE DIR SUCCESS RPS LATENCY_P50 LATENCY_P95
                                     LATENCY_P99; out: the routes of the Services it calls (a
                                     retried request counts once, by its final status), in: the
                                     routes it serves; [default]: traffic no route matched
  authz deploy/NAME|pod/NAME         each Server and route with its authorizations, as Linkerd's
                                     viz authz: ROUTE SERVER AUTHORIZATION UNAUTHORIZED SUCCESS RPS
                                     LATENCY_P50 LATENCY_P95 LATENCY_P99 (SUCCESS, LATENCY_*: the
                                     Server's; -o wide adds the allowed and denied counts)
  edges deploy|pod                   SRC DST SRC_NS DST_NS SECURED (√: mTLS with the identities
                                     the workloads have)
  tap deploy/NAME|pod/NAME           live requests through the resource's proxies, in Linkerd's
                                     lines (req / rsp / end); -o json for one event per line
  top deploy/NAME|pod/NAME           a live table of the most frequent paths (source, destination,
                                     method, path, count, best, worst, last, success rate); redrawn
                                     in place on a terminal, printed every --interval otherwise
  dashboard [--port P]               prints the dashboard's URL; with --port, serves it on
                                     127.0.0.1:P too (forwarded to the viz service) until Ctrl-C

options:
  -o, --output table|wide|json       output format (default table)
  -t, --time-window DUR              the window figures are computed over (default 1m; the
                                     service keeps 5m unless started with --viz-history)
      --from deploy/NAME|pod/NAME    stat: only requests from this resource (its outbound side)
      --to deploy/NAME|pod/NAME      stat: only requests to this resource; routes: only the
                                     outbound routes of Services whose endpoints it is
      --viz-addr HOST:PORT           the viz service (default: LINNET_VIZ_ADDR, else ${DEFAULT_VIZ_ADDR})
  -n, --namespace NS                 stat, edges: only this namespace (default: all, as -A)
  tap and top:
      --to deploy/NAME|pod/NAME      only requests to this resource
      --path PREFIX, --method M, --authority A   only requests that match
      --max-rps N                    at most N requests a second per proxy (the proxy's cap: 100)
      --limit N                      stop after N requests per proxy
      --interval DUR                 top: redraw every DUR (default 1s)
      --duration DUR                 stop after DUR (top prints its table once more)

exit status: 0; 1 for an unknown resource or name (the names that exist are listed) or an
unreachable viz service (the address tried is named); 2 for bad flags.
`;

function usageError(message: string): LinnetError {
  return new LinnetError('LINNET_VIZ_USAGE', message, { hint: 'see `linnet viz --help`' });
}

interface Common {
  addr: string;
  output: Output;
  window: string;
  from?: string;
  to?: string;
  port?: number;
  path?: string;
  method?: string;
  authority?: string;
  maxRps?: number;
  limit?: number;
  intervalMs: number;
  durationMs?: number;
  /** -n: only rows of this namespace (default: every namespace) */
  namespace?: string;
  positionals: string[];
}

export function parseVizArgs(args: string[], env: NodeJS.ProcessEnv = process.env): Common {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: 'string', short: 'o' },
        'time-window': { type: 'string', short: 't' },
        from: { type: 'string' },
        to: { type: 'string' },
        'viz-addr': { type: 'string' },
        port: { type: 'string' },
        path: { type: 'string' },
        method: { type: 'string' },
        authority: { type: 'string' },
        'max-rps': { type: 'string' },
        limit: { type: 'string' },
        interval: { type: 'string' },
        duration: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        // Without -n every namespace is shown already; accepted so that the habit does not fail.
        'all-namespaces': { type: 'boolean', short: 'A' },
      },
    });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const v = parsed.values;
  const output = (v.output ?? 'table') as Output;
  if (!['table', 'wide', 'json'].includes(output)) throw usageError(`-o must be table, wide or json, not ${JSON.stringify(v.output)}`);
  const window = v['time-window'] ?? '1m';
  try {
    if (!(parseDuration('--time-window', window) > 0)) throw new Error();
  } catch {
    throw usageError(`-t/--time-window must be a duration such as 30s, 1m or 5m, not ${JSON.stringify(window)}`);
  }
  for (const k of ['from', 'to'] as const) {
    if (v[k] === undefined) continue;
    try {
      parseRef(v[k]!);
    } catch (err) {
      throw usageError(`--${k}: ${(err as Error).message}`);
    }
  }
  let port: number | undefined;
  if (v.port !== undefined) {
    port = Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--port must be a port number, not ${JSON.stringify(v.port)}`);
  }
  const posInt = (k: 'max-rps' | 'limit') => {
    if (v[k] === undefined) return undefined;
    const n = Number(v[k]);
    if (!Number.isInteger(n) || n <= 0) throw usageError(`--${k} must be a positive integer, not ${JSON.stringify(v[k])}`);
    return n;
  };
  const dur = (k: 'interval' | 'duration', dflt?: string) => {
    const text = v[k] ?? dflt;
    if (text === undefined) return undefined;
    try {
      const ms = parseDuration(`--${k}`, text);
      if (!(ms > 0)) throw new Error();
      return ms;
    } catch {
      throw usageError(`--${k} must be a duration such as 1s or 30s, not ${JSON.stringify(text)}`);
    }
  };
  const maxRps = posInt('max-rps');
  const limit = posInt('limit');
  const durationMs = dur('duration');
  return {
    ...(v.path ? { path: v.path } : {}),
    ...(v.method ? { method: v.method } : {}),
    ...(v.authority ? { authority: v.authority } : {}),
    ...(maxRps ? { maxRps } : {}),
    ...(limit ? { limit } : {}),
    intervalMs: dur('interval', '1s')!,
    ...(durationMs ? { durationMs } : {}),
    addr: vizAddr(v['viz-addr'], env),
    output,
    window,
    ...(v.from ? { from: v.from } : {}),
    ...(v.to ? { to: v.to } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(v.namespace && !v['all-namespaces'] ? { namespace: v.namespace } : {}),
    positionals: parsed.positionals,
  };
}

const qs = (o: Record<string, string | undefined>) =>
  '?' +
  Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');

async function stat(c: Common): Promise<number> {
  const [what, maybeName, extra] = c.positionals;
  if (!what || extra !== undefined) throw usageError('stat takes a resource type and an optional name: stat deploy [NAME], stat pod, stat authority');
  let [kindText, name] = what.includes('/') ? what.split('/', 2) : [what, maybeName];
  const kind = parseKind(kindText ?? '');
  if (!kind) throw new LinnetError('LINNET_VIZ_NOT_FOUND', `unknown resource type ${JSON.stringify(kindText)}; these exist: deploy, pod, authority`);
  if (what.includes('/') && maybeName) name = maybeName;
  const body = await vizJson<{ rows: StatRow[] }>(c.addr, `/api/stat${qs({ kind, name, window: c.window, from: c.from, to: c.to })}`);
  const rows = c.namespace ? body.rows.filter((r) => r.namespace === c.namespace) : body.rows;
  process.stdout.write(renderStat(rows, c.output, kind) + '\n');
  if (c.output !== 'json') for (const line of renderDown(rows)) process.stderr.write(`‼ ${line}\n`);
  return 0;
}

async function routes(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (!what || extra !== undefined) throw usageError('routes takes one resource: routes deploy/NAME or pod/NAME');
  if (c.from) throw usageError('routes reads the resource\'s own proxies: --to narrows its outbound routes; --from is for stat');
  try {
    parseRef(what);
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const body = await vizJson<{ rows: RouteRow[] }>(c.addr, `/api/routes${qs({ ref: what, window: c.window, to: c.to })}`);
  process.stdout.write(renderRoutes(body.rows, c.output) + '\n');
  return 0;
}

async function edges(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (!what || extra !== undefined) throw usageError('edges takes a resource type: edges deploy, edges pod');
  const kind = parseKind(what);
  if (kind !== 'deploy' && kind !== 'pod') throw new LinnetError('LINNET_VIZ_NOT_FOUND', `edges are between deploy or pod, not ${JSON.stringify(what)}; these exist: deploy, pod`);
  const body = await vizJson<{ rows: EdgeRow[] }>(c.addr, `/api/edges${qs({ kind, window: c.window })}`);
  const rows = c.namespace ? body.rows.filter((r) => r.srcNs === c.namespace || r.dstNs === c.namespace) : body.rows;
  process.stdout.write(renderEdges(rows, c.output) + '\n');
  return 0;
}

async function dashboard(c: Common): Promise<number> {
  // Reachable first, so a wrong address is one clear line rather than a dead link.
  const probe = await vizGet(c.addr, '/healthz');
  if (probe.status !== 200) throw new LinnetError('LINNET_VIZ_BAD_ANSWER', `${baseUrl(c.addr)}/healthz answered ${probe.status}: is --viz-addr the viz service?`);
  if (c.port === undefined) {
    process.stdout.write(`Linnet dashboard available at:\n${baseUrl(c.addr)}/\n`);
    return 0;
  }
  // As `linkerd viz dashboard` port-forwards: a local port that relays to the service.
  const target = new URL(baseUrl(c.addr));
  const server = createServer((req, res) => {
    const up = request({ host: target.hostname, port: target.port || 80, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`viz service at ${baseUrl(c.addr)}: ${err.message}\n`);
    });
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(c.port, '127.0.0.1', () => ok());
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  process.stdout.write(`Linnet dashboard available at:\nhttp://127.0.0.1:${port}/\n(forwarding to ${baseUrl(c.addr)}; Ctrl-C to stop; nothing is opened on this machine)\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  server.close();
  server.closeAllConnections();
  return 0;
}

function tapPath(c: Common, what: string | undefined): string {
  if (!what) throw usageError('tap and top take one resource: deploy/NAME or pod/NAME');
  try {
    parseRef(what);
  } catch (err) {
    throw usageError((err as Error).message);
  }
  return `/api/tap${qs({ resource: what, to: c.to, path: c.path, method: c.method, authority: c.authority, max_rps: c.maxRps?.toString(), limit: c.limit?.toString() })}`;
}

/** Runs `fn` over the tap stream until it ends, Ctrl-C, or --duration. */
async function withTap(c: Common, what: string | undefined, fn: (e: NamedTapEvent & { line: string }) => void, onError: (m: string) => void): Promise<void> {
  const path = tapPath(c, what);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = c.durationMs ? setTimeout(stop, c.durationMs) : undefined;
  // A reader that went away (`| head`) ends the tap, as Ctrl-C does.
  const onOut = (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? stop() : undefined);
  process.stdout.on('error', onOut);
  try {
    for await (const { event, data } of vizEvents(c.addr, path, abort.signal)) {
      if (event === 'line') {
        const d = data as { line: string; event: NamedTapEvent };
        fn({ ...d.event, line: d.line });
      } else if (event === 'tap-error') onError((data as { error: string }).error);
      else if (event === 'end') break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', onOut);
    abort.abort();
  }
}

async function tap(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (extra !== undefined) throw usageError('tap takes one resource: tap deploy/NAME');
  let errors = 0;
  await withTap(
    c,
    what,
    (e) => {
      const { line, ...event } = e;
      process.stdout.write((c.output === 'json' ? JSON.stringify(event) : line) + '\n');
    },
    (m) => {
      errors++;
      process.stderr.write(`‼ ${m}\n`);
    },
  );
  return errors > 0 ? 1 : 0;
}

async function top(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (extra !== undefined) throw usageError('top takes one resource: top deploy/NAME');
  const names = new Map<string, string>();
  const table = new TopTable((ip) => names.get(ip) ?? ip);
  const tty = process.stdout.isTTY === true;
  const draw = () => {
    const text = renderTop(table.sorted());
    process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
  };
  const timer = setInterval(draw, c.intervalMs);
  try {
    await withTap(
      c,
      what,
      (e) => {
        names.set(e.source.ip, e.srcName);
        names.set(e.destination.ip, e.dstName);
        table.add(e);
      },
      (m) => process.stderr.write(`‼ ${m}\n`),
    );
  } finally {
    clearInterval(timer);
  }
  draw();
  return 0;
}

const SUBCOMMANDS: Record<string, (c: Common) => Promise<number>> = { stat, st: stat, routes, rt: routes, edges, ed: edges, authz: authzCommand, dashboard, dash: dashboard, tap, top };

export const command: Command = {
  summary: 'look at the mesh: stat, routes, edges, tap, top, the dashboard (the viz service of linnet control)',
  usage,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    const fn = sub ? SUBCOMMANDS[sub] : undefined;
    if (!fn) {
      process.stderr.write(`linnet viz: ${sub ? `unknown command ${JSON.stringify(sub)}` : 'which command?'} (stat, routes, edges, authz, tap, top, dashboard)\n\n${usage}`);
      return 2;
    }
    let c: Common;
    try {
      c = parseVizArgs(rest);
    } catch (err) {
      process.stderr.write(`linnet viz: ${(err as LinnetError).describe?.() ?? String(err)}\n`);
      return 2;
    }
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof LinnetError && err.code === 'LINNET_VIZ_USAGE') {
        process.stderr.write(`linnet viz: ${err.describe()}\n`);
        return 2;
      }
      throw err;
    }
  },
};
