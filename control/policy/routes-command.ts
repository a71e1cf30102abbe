/**
 * `linnet routes` (until `linnet viz routes` exists): the outbound routes a Service port gets,
 * compiled from the policy directory offline; or a running proxy's route metrics per Service and
 * route (requests, success, retries, budget refusals, timeouts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../../core/command';
import { LinnetError } from '../../core/errors';
import { parseMeshFile } from '../destination/mesh-file';
import { indexMesh } from '../destination/model';
import { PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { compileOutbound, serviceOfHost } from './outbound';
import { describeOutbound, formatRouteRows, routeRows } from './routes-report';

const USAGE = `usage: linnet routes --policy-dir DIR --discovery-file FILE [--cluster-domain cluster.local]
       linnet routes --proxy HOST:4191

Offline: for each service of the mesh file named name.ns.svc.<domain> and each of its ports, the
HTTPRoutes and GRPCRoutes attached (in precedence order), each rule's matches, backends and
weights, retries, timeouts and filters, and what unmatched requests get.
Live: a proxy's outbound_*_route_* counters per Service and route.
`;

function usageError(m: string): LinnetError {
  return new LinnetError('LINNET_ROUTES_USAGE', m, { hint: 'see `linnet routes --help`' });
}

export const command: Command = {
  summary: 'the outbound routes each Service port gets; or a proxy\'s route metrics',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let values: Record<string, string | undefined>;
    try {
      values = parseArgs({ args, options: { 'policy-dir': { type: 'string' }, 'discovery-file': { type: 'string' }, 'cluster-domain': { type: 'string' }, proxy: { type: 'string' } } }).values as Record<string, string | undefined>;
    } catch (err) {
      throw usageError((err as Error).message);
    }
    if (values['proxy']) {
      const res = await fetch(`http://${values['proxy']}/metrics`, { signal: AbortSignal.timeout(5000) });
      process.stdout.write(formatRouteRows(routeRows(await res.text())));
      return 0;
    }
    const dir = values['policy-dir'];
    const file = values['discovery-file'];
    if (!dir || !file) throw usageError('give --policy-dir and --discovery-file, or --proxy');
    const names = readdirSync(dir).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
    const index = new PolicyIndex(names.flatMap((n, i) => parsePolicyDocuments(readFileSync(join(dir, n), 'utf8'), join(dir, n), i)));
    const mesh = indexMesh(parseMeshFile(readFileSync(file, 'utf8'), file));
    for (const svc of mesh.state.services) {
      const s = serviceOfHost(svc.name);
      if (!s) continue;
      for (const port of svc.ports) process.stdout.write(describeOutbound(compileOutbound(index, { ...s, port }, values['cluster-domain'] ?? 'cluster.local')).join('\n') + '\n');
    }
    return 0;
  },
};
