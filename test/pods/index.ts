/**
 * The pod helper for integration tests: the local mesh runner's pods (control/local/pods), plus
 * what only tests need (skip reasons, proxy logs on failure, the mesh helpers in mesh.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, rootSkipReason, type Cluster } from '../../control/local/pods';
import { prepareRuntime } from '../../control/local/pods/stage';

export * from '../../control/local/pods';

/**
 * `bin/linnet` where another uid can read it: the checkout itself, or its staged copy when the
 * checkout is closed to other users (control/local/pods/stage.ts), for tests that run the CLI as
 * a non-root user.
 */
export function linnetBinForOtherUsers(): string {
  return join(prepareRuntime(REPO_ROOT).root, 'bin', 'linnet');
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
