/**
 * The Node options the proxy runs with wherever Linnet starts it (the image's ENV, the local pods
 * of `npm start`, the tests and the bench): V8's young generation held to 1 MB semi-spaces instead
 * of growing to 16 MB. A proxy's garbage is short-lived (a request's objects), so a small young
 * generation is collected often and cheaply, and the 30 MB V8 would otherwise keep committed
 * after the first burst is given back to the node.
 *
 * Measured with `linnet bench --scenario http1-small,latency-http1-1000,idle-conns --runs 3`, with
 * and without `--proxy-env NODE_OPTIONS=--max-semi-space-size=1` (2026-12-06, same machine, back
 * to back): one hop, peak RSS 115.4 → 86.8 MiB and private memory at the end 59.2 → 30.1 MiB; the
 * meshed pair 231.6 → 158.4 MiB peak; CPU per request at a constant 1,000 req/s +6% one hop and
 * unchanged meshed (0.570 → 0.573 CPU s per 1k), +15–22% one hop at saturation; p99 at 1,000
 * req/s no worse (meshed 7.7 → 6.1 ms). Set NODE_OPTIONS on the proxy container to choose
 * otherwise (a later --max-semi-space-size wins).
 */
export const PROXY_NODE_OPTIONS = '--max-semi-space-size=1';

/** NODE_OPTIONS for a proxy started with `extra` (the caller's own options come after ours, so theirs win). */
export function proxyNodeOptions(extra: string | undefined): string {
  return extra ? `${PROXY_NODE_OPTIONS} ${extra}` : PROXY_NODE_OPTIONS;
}
