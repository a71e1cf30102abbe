/**
 * `linnet authz`: what a workload's ports allow, from the policy resources offline, with the
 * warnings `linnet check` would give; or one running proxy's allow/deny counts per server, route
 * and authorization (a workload's over a window, in Linkerd's columns: `linnet viz authz`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../../core/command';
import { LinnetError } from '../../core/errors';
import { DEFAULT_POLICIES, isDefaultPolicy, DEFAULT_CLUSTER } from '../../core/policy/model';
import { parseMeshFile } from '../destination/mesh-file';
import { canonicalIp, indexMesh } from '../destination/model';
import { compilePort, PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { podsFromMesh } from './mesh-pods';
import { authzRows, describePolicy, policyWarnings } from './report';

const USAGE = `usage: linnet authz --policy-dir DIR --discovery-file FILE [--workload IP] [--port N]... [--default-inbound-policy P]
       linnet authz --proxy HOST:4191

Offline: for each workload of the mesh file (or the one named) and each port (the Servers' ports,
or those given), the Server, its routes and who each authorization lets in; then warnings: a
Server nothing authorizes, a policy whose target or authentication does not exist, identities
that match no workload.
Live: a proxy's inbound_*_authz_* counters as allow/deny per server, route and authorization
(per workload, over a window, as Linkerd's table: linnet viz authz deploy/NAME).
`;

function usageError(m: string): LinnetError {
  return new LinnetError('LINNET_AUTHZ_USAGE', m, { hint: 'see `linnet authz --help`' });
}

export const command: Command = {
  summary: 'what the authorization policy allows, per workload port; or a proxy\'s allow/deny counts',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let values: Record<string, string | string[] | undefined>;
    try {
      values = parseArgs({
        args,
        options: {
          'policy-dir': { type: 'string' },
          'discovery-file': { type: 'string' },
          workload: { type: 'string' },
          port: { type: 'string', multiple: true },
          'default-inbound-policy': { type: 'string' },
          proxy: { type: 'string' },
        },
      }).values as Record<string, string | string[] | undefined>;
    } catch (err) {
      throw usageError((err as Error).message);
    }
    const proxy = values['proxy'] as string | undefined;
    if (proxy) {
      const res = await fetch(`http://${proxy}/metrics`, { signal: AbortSignal.timeout(5000) });
      const rows = authzRows(await res.text());
      const w = [6, 5, 13].map((n, i) => Math.max(n, ...rows.map((r) => [r.server, r.route, r.authz][i]!.length)));
      process.stdout.write(`${'SERVER'.padEnd(w[0]!)}  ${'ROUTE'.padEnd(w[1]!)}  ${'AUTHORIZATION'.padEnd(w[2]!)}  ALLOW  DENY\n`);
      for (const r of rows) process.stdout.write(`${r.server.padEnd(w[0]!)}  ${r.route.padEnd(w[1]!)}  ${r.authz.padEnd(w[2]!)}  ${String(r.allow).padStart(5)}  ${String(r.deny).padStart(4)}\n`);
      return 0;
    }
    const dir = values['policy-dir'] as string | undefined;
    const file = values['discovery-file'] as string | undefined;
    if (!dir || !file) throw usageError('give --policy-dir and --discovery-file, or --proxy');
    const dp = (values['default-inbound-policy'] as string | undefined) ?? 'all-unauthenticated';
    if (!isDefaultPolicy(dp)) throw usageError(`--default-inbound-policy must be one of ${DEFAULT_POLICIES.join(', ')}`);
    const { readdirSync } = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    const names = readdirSync(dir).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
    const index = new PolicyIndex(names.flatMap((n, i) => parsePolicyDocuments(readFileSync(join(dir, n), 'utf8'), join(dir, n), i)));
    const mesh = parseMeshFile(readFileSync(file, 'utf8'), file);
    const pods = podsFromMesh(indexMesh(mesh));
    const settings = { defaultPolicy: dp, clusterNetworks: DEFAULT_CLUSTER, identityDomain: 'identity.linnet.cluster.local' };
    const wanted = values['workload'] as string | undefined;
    const givenPorts = ((values['port'] as string[] | undefined) ?? []).map(Number);
    for (const [ip, pod] of pods) {
      if (wanted && canonicalIp(wanted) !== ip) continue;
      const ports = givenPorts.length
        ? givenPorts
        : [...new Set(index.in(pod.namespace, 'Server').flatMap((s) => (typeof s.port === 'number' ? [s.port] : [])))].sort((a, b) => a - b);
      for (const port of ports) process.stdout.write(describePolicy(ip, port, compilePort(index, pod, port, settings)).join('\n') + '\n');
    }
    const identities = [...mesh.workloads.map((w) => w.identity), ...mesh.services.flatMap((s) => s.endpoints.flatMap((e) => (e.identity ? [e.identity] : [])))];
    const warnings = policyWarnings(index, identities);
    for (const w of warnings) process.stdout.write(`‼ ${w}\n`);
    return 0;
  },
};
