/**
 * A flame graph of some processes from `perf script` output (bench/flamegraph.ts).
 *
 *   perf record -C 1 -g -F 4999 -o perf.data -- sleep 5     # while the bench loads the proxy on CPU 1
 *   perf script -i perf.data -F comm,pid,tid,ip,sym,dso > perf.txt
 *   node dist/bench/apps/flamegraph.js --in perf.txt --pids 1234,1240 --names outbound,inbound \
 *     --title "..." --subtitle "..." --out profile.svg
 *
 * The proxy names its JavaScript for perf when started with NODE_OPTIONS=--perf-basic-prof
 * (`linnet bench --proxy-env NODE_OPTIONS=--perf-basic-prof`). Prints the self time by kind as JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BenchError } from '../errors';
import { flameGraphSvg, foldPerfScript, selfShares } from '../flamegraph';
import { flags, report } from './args';

const v = flags({ in: 'string', pids: 'string', names: 'string', title: 'string', subtitle: 'string', out: 'string' });
if (typeof v.in !== 'string' || typeof v.out !== 'string') {
  throw new BenchError('LINNET_BENCH_BAD_ARGS', '--in PERF_SCRIPT_TEXT and --out FILE.svg are required', 'see the usage at the top of bench/apps/flamegraph.ts');
}
const pids = typeof v.pids === 'string' ? v.pids.split(',').map(Number) : [];
if (pids.some((p) => !Number.isInteger(p) || p <= 0)) throw new BenchError('LINNET_BENCH_BAD_ARGS', `--pids "${v.pids}": expected process ids separated by commas`, 'pgrep -f "linnet proxy" lists the proxies');
const names = typeof v.names === 'string' ? v.names.split(',') : [];
const folded = foldPerfScript(readFileSync(v.in, 'utf8'), {
  ...(pids.length ? { pids: new Set(pids) } : {}),
  rootOf: (pid, comm) => names[pids.indexOf(pid)] ?? `${comm} ${pid}`,
});
writeFileSync(v.out, flameGraphSvg(folded, typeof v.title === 'string' ? v.title : 'CPU flame graph', typeof v.subtitle === 'string' ? v.subtitle : ''));
const shares = selfShares(folded);
report({ samples: folded.samples, selfShares: Object.fromEntries(Object.entries(shares).map(([k, s]) => [k, Math.round(s * 1000) / 10])) });
