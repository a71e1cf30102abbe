/**
 * The local mesh runner's pods: real network namespaces on a bridge, `linnet init` and
 * `linnet proxy` inside them, apps beside them. `npm start` (the demo), the bench and the
 * integration tests all build their meshes with it. See cluster.ts for the picture.
 */
import { spawnSync } from 'node:child_process';

export { Cluster, sweepStale, LOG_ROOT } from './cluster';
export { Pod, APP_UID, PROXY_UID, LINNET_BIN, REPO_ROOT, type InitOptions, type ExecOptions } from './pod';
export { PodProcess, run, runOk, type RunResult } from './exec';
export { PodError } from './errors';
export { parsePromText, select, sum, type Sample } from './prom-text';

/** Why pods cannot be built here, or undefined when they can (root and `ip netns`). */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root and ip netns';
  const r = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  if (r.status !== 0) return 'needs root and ip netns (`ip netns list` failed)';
  return undefined;
}
