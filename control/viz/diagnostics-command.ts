/**
 * `linnet diagnostics`: Linkerd's diagnostics commands. `proxy-metrics POD|IP:PORT` prints a
 * proxy's raw /metrics (an admin address directly; a pod name or IP through the viz service, which
 * reaches the pods); `endpoints AUTHORITY` prints what discovery answers for an authority.
 */
import type { Command } from '../../core/command';
import { LinnetError } from '../../core/errors';
import { DEFAULT_VIZ_ADDR, vizAddr, vizGet, vizJson } from './client';
import { table } from './render';
import { parseArgs } from 'node:util';

const usage = `usage: linnet diagnostics proxy-metrics POD|deploy/NAME|IP:PORT [--viz-addr HOST:PORT]
       linnet diagnostics endpoints AUTHORITY [-o table|json] [--viz-addr HOST:PORT]

proxy-metrics   a proxy's raw Prometheus metrics: IP:PORT is its admin address (read directly);
                a pod name or IP is read through the viz service; deploy/NAME prints every pod's,
                each under a \`# POD name (i of n)\` header
endpoints       the endpoints discovery gives for AUTHORITY (name[:port] or ip:port), with their
                identities and labels
--viz-addr      the viz service of linnet control (default LINNET_VIZ_ADDR, else ${DEFAULT_VIZ_ADDR})
`;

interface EndpointsAnswer {
  authority: string;
  exists: boolean;
  endpoints: { ip: string; port: number; weight: number; identity?: string; labels: Record<string, string>; hint?: string }[];
}

export const command: Command = {
  summary: "a proxy's raw metrics, or the endpoints discovery gives for an authority",
  usage,
  async run(args: string[]): Promise<number> {
    let p;
    try {
      p = parseArgs({ args, allowPositionals: true, options: { 'viz-addr': { type: 'string' }, output: { type: 'string', short: 'o' } } });
    } catch (err) {
      process.stderr.write(`linnet diagnostics: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    const [sub, what, extra] = p.positionals;
    if (!sub || !what || extra !== undefined || !['proxy-metrics', 'endpoints'].includes(sub)) {
      process.stderr.write(`linnet diagnostics: expected proxy-metrics POD or endpoints AUTHORITY\n\n${usage}`);
      return 2;
    }
    const addr = vizAddr(p.values['viz-addr']);
    if (sub === 'proxy-metrics') {
      if (/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d+$/.test(what)) {
        const r = await vizGet(what, '/metrics');
        if (r.status !== 200) throw new LinnetError('LINNET_DIAGNOSTICS_FAILED', `http://${what}/metrics answered ${r.status}`);
        process.stdout.write(r.body);
        return 0;
      }
      // deploy/NAME: every pod of the workload, each under a header, as Linkerd prints them.
      if (what.startsWith('deploy/') || what.startsWith('deployment/')) {
        const name = what.slice(what.indexOf('/') + 1);
        const { proxies } = await vizJson<{ proxies: { pod: string; workload: string }[] }>(addr, '/api/proxies');
        const pods = proxies.filter((x) => x.workload === name).map((x) => x.pod);
        if (pods.length === 0) {
          throw new LinnetError('LINNET_VIZ_NOT_FOUND', `deploy/${name} not found; these exist: ${[...new Set(proxies.map((x) => x.workload))].sort().join(', ') || '(none yet)'}`);
        }
        for (const [i, pod] of pods.entries()) {
          const r = await vizGet(addr, `/api/proxy-metrics?pod=${encodeURIComponent(pod)}`);
          process.stdout.write(`#\n# POD ${pod} (${i + 1} of ${pods.length})\n#\n`);
          process.stdout.write(r.status === 200 ? r.body : `# not answering: ${r.body.trim()}\n`);
        }
        return 0;
      }
      const r = await vizGet(addr, `/api/proxy-metrics?pod=${encodeURIComponent(what)}`);
      if (r.status !== 200) {
        const e = JSON.parse(r.body) as { error: string; known?: string[] };
        throw new LinnetError('LINNET_VIZ_NOT_FOUND', `${e.error}${e.known ? `; these exist: ${e.known.join(', ')}` : ''}`);
      }
      process.stdout.write(r.body);
      return 0;
    }
    const a = await vizJson<EndpointsAnswer>(addr, `/api/endpoints?authority=${encodeURIComponent(what)}`);
    if (p.values.output === 'json') {
      process.stdout.write(JSON.stringify(a, null, 2) + '\n');
      return 0;
    }
    if (!a.exists || a.endpoints.length === 0) {
      process.stderr.write(`No endpoints found for ${what}.\n`);
      return 1;
    }
    const rows = a.endpoints.map((e) => [e.ip, String(e.port), e.labels['pod'] ?? '-', e.identity ?? '(unmeshed)', String(e.weight), e.hint ?? '-']);
    process.stdout.write(table(['IP', 'PORT', 'POD', 'IDENTITY', 'WEIGHT', 'PROTOCOL_HINT'], rows) + '\n');
    return 0;
  },
};
