import { setFlagsFromString } from 'node:v8';

/**
 * The Node options the proxy runs with wherever Linnet starts it (the image's ENV, the local pods
 * of `npm start`, the tests and the bench): V8's young generation held to 4 MB semi-spaces instead
 * of growing to 16 MB. A proxy's garbage is short-lived (a request's objects): a young generation
 * of a few MB is collected cheaply, and V8 does not keep 30 MB committed after the first burst.
 *
 * The size is a trade between CPU (a smaller young generation is collected more often, and each
 * collection copies the same live set) and memory. Measured with `linnet bench --proxy-env
 * NODE_OPTIONS=--max-semi-space-size=N` on this machine (2026-12-06, back to back, ratios from the
 * same run):
 *  - 16 against 1 (`--scenario http1-small,latency-http1-1000,idle-conns --runs 3`): one hop, peak
 *    RSS 115.4 → 86.8 MiB; the meshed pair 231.6 → 158.4 MiB; CPU per request +15–22% one hop at
 *    saturation, +6% at a constant 1,000 req/s.
 *  - 1 against 4 (`--scenario http1-small --runs 5`, two rounds each, alternating): one hop
 *    0.93× and 0.94× nginx's throughput with 1, 1.07× and 0.97× with 4; the meshed path 0.39× and
 *    0.36× the haproxy pair with 1, 0.47× and 0.39× with 4; CPU per 1k requests 11–12% less with
 *    4; peak RSS 88/87 → 94/94 MiB one hop, 168/159 → 189/174 MiB the pair. At a constant 1,000
 *    req/s (`--scenario latency-http1-1000 --runs 3`): CPU per 1k 0.257 → 0.203 s one hop,
 *    0.543 → 0.507 s meshed; p99 3.03 → 2.85 ms and 4.70 → 4.38 ms; peak RSS +5 and +10 MiB.
 * Four gives back most of the CPU for a few MB. Set NODE_OPTIONS on the proxy container to choose
 * otherwise (a later --max-semi-space-size wins).
 */
export const PROXY_NODE_OPTIONS = '--max-semi-space-size=4';

/** NODE_OPTIONS for a proxy started with `extra` (the caller's own options come after ours, so theirs win). */
export function proxyNodeOptions(extra: string | undefined): string {
  return extra ? `${PROXY_NODE_OPTIONS} ${extra}` : PROXY_NODE_OPTIONS;
}

/**
 * V8's old generation may grow, by default, to up to four times what the last full collection
 * kept before the next one runs; a proxy whose live heap is 8 MB then holds 30 MB of old space
 * under load, most of it garbage promoted from the young generation. The proxy sets the growth
 * factor from LINNET_PROXY_HEAP_GROWING_PERCENT at start-up (a V8 flag Node does not take in
 * NODE_OPTIONS, so it is set from inside, before the listeners open; V8 reads it at every full
 * collection). V8 still grows by at least a few MB per step, so 25 and 50 hold the same.
 * `percent` 0 leaves V8's own heuristic.
 *
 * Measured with `linnet bench --scenario http1-small,latency-http1-1000 --runs 3`, two rounds
 * each, alternating (2026-12-06): peak RSS one hop 93.9 and 92.2 MiB with V8's own, 76.7 and
 * 76.6 with 50; the meshed pair 179.9 and 180.8 → 153.3 and 154.0 MiB; CPU per 1k requests
 * within the runs' noise (one hop 0.0350/0.0390 against 0.0374/0.0349 at saturation,
 * 0.187/0.187 against 0.207/0.157 at 1,000 req/s). Old space peaked at 31–32 MB with 4 full
 * collections in 26 s, 15–16 MB with 10.
 */
export function applyHeapGrowingPercent(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
