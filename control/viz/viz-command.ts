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
import { baseUrl, DEFAULT_VIZ_ADDR, vizAddr, vizGet, vizJson } from './client';
import type { EdgeRow } from './edges';
import { renderDown, renderEdges, renderRoutes, renderStat, type Output } from './render';
import { parseKind, parseRef, type RouteRow, type StatRow } from './stat';

const usage = `usage: linnet viz <command> [options]

Looks at the mesh through the viz service of \`linnet control\` (default ${DEFAULT_VIZ_ADDR}).

commands:
  stat deploy|pod|authority [NAME]   golden metrics per workload, pod or authority:
                                     NAME MESHED SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN
                                     (also \`stat deploy/NAME\`)
  routes deploy/NAME                 per-route figures (one [default] route per authority until
                                     route tables land)
  edges deploy|pod                   SRC DST SRC_NS DST_NS SECURED (√: mTLS with the identities
                                     the workloads have)
  dashboard [--port P]               prints the dashboard's URL; with --port, serves it on
                                     127.0.0.1:P too (forwarded to the viz service) until Ctrl-C

options:
  -o, --output table|wide|json       output format (default table)
  -t, --time-window DUR              the window figures are computed over (default 1m; the
                                     service keeps 5m unless started with --viz-history)
      --from deploy/NAME|pod/NAME    stat: only requests from this resource (its outbound side)
      --to deploy/NAME|pod/NAME      stat: only requests to this resource
      --viz-addr HOST:PORT           the viz service (default: LINNET_VIZ_ADDR, else ${DEFAULT_VIZ_ADDR})

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
        // Linkerd's flags that mean nothing here, accepted so that habits do not fail.
        namespace: { type: 'string', short: 'n' },
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
  return {
    addr: vizAddr(v['viz-addr'], env),
    output,
    window,
    ...(v.from ? { from: v.from } : {}),
    ...(v.to ? { to: v.to } : {}),
    ...(port !== undefined ? { port } : {}),
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
  process.stdout.write(renderStat(body.rows, c.output, kind) + '\n');
  if (c.output !== 'json') for (const line of renderDown(body.rows)) process.stderr.write(`‼ ${line}\n`);
  return 0;
}

async function routes(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (!what || extra !== undefined) throw usageError('routes takes one resource: routes deploy/NAME');
  try {
    parseRef(what);
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const body = await vizJson<{ rows: RouteRow[] }>(c.addr, `/api/routes${qs({ ref: what, window: c.window })}`);
  process.stdout.write(renderRoutes(body.rows, c.output) + '\n');
  return 0;
}

async function edges(c: Common): Promise<number> {
  const [what, extra] = c.positionals;
  if (!what || extra !== undefined) throw usageError('edges takes a resource type: edges deploy, edges pod');
  const kind = parseKind(what);
  if (kind !== 'deploy' && kind !== 'pod') throw new LinnetError('LINNET_VIZ_NOT_FOUND', `edges are between deploy or pod, not ${JSON.stringify(what)}; these exist: deploy, pod`);
  const body = await vizJson<{ rows: EdgeRow[] }>(c.addr, `/api/edges${qs({ kind, window: c.window })}`);
  process.stdout.write(renderEdges(body.rows, c.output) + '\n');
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

const SUBCOMMANDS: Record<string, (c: Common) => Promise<number>> = { stat, st: stat, routes, rt: routes, edges, ed: edges, dashboard, dash: dashboard };

export const command: Command = {
  summary: 'look at the mesh: stat, routes, edges, the dashboard (the viz service of linnet control)',
  usage,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    const fn = sub ? SUBCOMMANDS[sub] : undefined;
    if (!fn) {
      process.stderr.write(`linnet viz: ${sub ? `unknown command ${JSON.stringify(sub)}` : 'which command?'} (stat, routes, edges, dashboard)\n\n${usage}`);
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
