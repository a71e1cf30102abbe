/**
 * `npm test`: runs every compiled `*.test.js` under dist/ with node's test runner. Unit tests
 * (beside the code) run first and in parallel; the integration tests in test/ build network
 * namespaces and start real peers, so they run one file at a time.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const distRoot = join(__dirname, '..');

function find(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const filter = process.argv.slice(2);
const all = find(distRoot).filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
const isIntegration = (f: string) => relative(distRoot, f).startsWith('test' + '/');
const unit = all.filter((f) => !isIntegration(f));
const integration = all.filter(isIntegration);

let failed = false;
for (const [files, concurrency] of [
  [unit, 2],
  [integration, 1],
] as const) {
  if (files.length === 0) continue;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
