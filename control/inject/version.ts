import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/** The package version (package.json), which is also the default proxy image tag. */
export function linnetVersion(): string {
  if (cached === undefined) {
    // dist/control/inject/version.js and control/inject/version.ts are both three levels down.
    for (const up of ['../../..', '../..']) {
      try {
        const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'linnet' && pkg.version) {
          cached = pkg.version;
          break;
        }
      } catch {
        // try the next candidate
      }
    }
    cached ??= '0.0.0';
  }
  return cached;
}
