/**
 * The pod helper for integration tests: real network namespaces as pods on a bridge, `linnet
 * init` and `linnet proxy` inside them, apps beside them. See cluster.ts for the picture.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster';
import { REPO_ROOT } from './pod';

export { Cluster, sweepStale, LOG_ROOT } from './cluster';
export { Pod, APP_UID, PROXY_UID, LINNET_BIN, REPO_ROOT, type InitOptions, type ExecOptions } from './pod';
export { PodProcess, type RunResult } from './exec';
export { PodError } from './errors';
export { parsePromText, select, sum, type Sample } from './prom-text';

/** Why pod tests cannot run here, or undefined when they can: pass as `test(name, { skip }, ...)`. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root and ip netns';
  const r = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  if (r.status !== 0) return 'needs root and ip netns (`ip netns list` failed)';
  return undefined;
}

/** Like rootSkipReason, plus the proxy and init commands having been built into dist/. */
export function meshSkipReason(): string | undefined {
  const root = rootSkipReason();
  if (root) return root;
  for (const m of ['proxy/command.js', 'init/command.js']) {
    if (!existsSync(join(REPO_ROOT, 'dist', m))) return `needs dist/${m} (run npx tsc -p .)`;
  }
  return undefined;
}

/**
 * Wraps a test body so that when it fails, the tail of every proxy log in the cluster is printed
 * before the error is reported: the proxy's side of the story is what one needs to debug it.
 */
export function logsOnFailure<A extends unknown[]>(cluster: () => Cluster | undefined, body: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await body(...a);
    } catch (err) {
      const c = cluster();
      if (c) process.stderr.write(`\n===== proxy logs (cluster ${c.id}, all logs in ${c.logDir}) =====\n${c.logTails(40)}\n`);
      throw err;
    }
  };
}
