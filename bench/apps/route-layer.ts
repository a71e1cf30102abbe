/**
 * The outbound route layer's own cost per request, in-process (a profiling aid, not a bench
 * target): the routes scenario's 50 HTTPRoutes compiled as the control plane compiles them and
 * read back through the proxy's protobuf decoding, then for each request what the proxy does
 * once it has a target's policy: match, plan, retry budget, route metrics, end. No sockets, so
 * this is the layer alone; `routes-http1` measures what it costs on the meshed path.
 *
 *   node dist/bench/apps/route-layer.js [--requests 200000] [--rounds 5]
 *
 * Prints one line per round (ns per request) and {medianNs} last.
 */
import { PolicyIndex } from '../../control/policy/compile';
import { parsePolicyDocuments } from '../../control/policy/documents';
import { compileOutbound } from '../../control/policy/outbound';
import { fromPbOutbound, toPbOutbound } from '../../core/api/outbound';
import type { RequestView } from '../../core/policy/model';
import { RouteMetrics } from '../../proxy/metrics/route-metrics';
import { Registry } from '../../proxy/metrics/registry';
import type { OutboundPolicies } from '../../proxy/outbound/route/policy-client';
import { RetryBudgets, routeRequest, type RouteServices } from '../../proxy/outbound/route/route-call';
import { benchRoutes, serviceVip } from '../environment';
import { port } from '../topology';
import { flags } from './args';

const f = flags({ requests: 'string', rounds: 'string' });
const N = Number(f.requests ?? 200_000);
const ROUNDS = Number(f.rounds ?? 5);

const policy = fromPbOutbound(toPbOutbound(compileOutbound(new PolicyIndex(parsePolicyDocuments(benchRoutes(), 'bench')), { namespace: 'bench', name: 'http1', port: port('mesh', 'http1') }, 'cluster.local')));
if (!policy || policy.routes.length !== 50) throw new Error(`expected the bench's 50 routes, got ${policy?.routes.length ?? 'no policy'}`);
const known = { policy, version: 1, answered: true };
const svc: RouteServices = {
  policies: { ready: () => known, get: () => known } as unknown as OutboundPolicies,
  metrics: new RouteMetrics(new Registry()),
  budgets: new RetryBudgets(),
  allowRequestHeaders: false,
};
const target = `${serviceVip('http1')}:${port('mesh', 'http1')}`;
// What wrk sends, looked up as the stack's view does (lower-cased once, on the first lookup).
const names = ['Host', 'User-Agent', 'Accept'];
const values = [target, 'wrk', '*/*'];
function view(): RequestView {
  let byName: Map<string, string> | undefined;
  return {
    method: 'GET',
    path: '/',
    query: '',
    host: serviceVip('http1'),
    header: (n) => {
      if (!byName) {
        byName = new Map();
        for (let i = names.length - 1; i >= 0; i--) byName.set(names[i]!.toLowerCase(), values[i]!);
      }
      return byName.get(n);
    },
  };
}

const rounds: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = routeRequest(svc, target, 'addr', false, view(), 'http');
    if (!r || r instanceof Promise) throw new Error('the policy is known: routing must be synchronous');
    r.attempt();
    r.end({ status: 200 }, false);
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  rounds.push(ns);
  process.stdout.write(`round ${round}: ${ns.toFixed(0)} ns per request\n`);
}
const sorted = [...rounds].sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ medianNs: Math.round(sorted[Math.floor(sorted.length / 2)]!) })}\n`);
