/**
 * `npm test`: runs every compiled `*.test.js` under dist/ with node's test runner. Unit tests
 * (beside the code) run first, two files at a time; the integration tests in test/ build network
 * namespaces and start real peers, so they run one file at a time. Ends with one summary line,
 * `tests: N passed, N failed, N skipped`, over both runs.
 *
 * `node dist/test/run-tests.js WORD...` runs only the files whose path contains one of the words.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// test/unit/ holds unit tests that need test/ support files; the rest of test/ builds pods.
const isIntegration = (f: string) => relative(distRoot, f).startsWith('test/') && !relative(distRoot, f).startsWith('test/unit/');
const phases = [
  { name: 'unit', files: all.filter((f) => !isIntegration(f)), concurrency: 2 },
  { name: 'integration', files: all.filter(isIntegration), concurrency: 1 },
];

const TEST_TIMEOUT_MS = 180_000;

const tapDir = mkdtempSync(join(tmpdir(), 'linnet-tests-'));
const totals = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
let failed = false;
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const tap = join(tapDir, `${phase.name}.tap`);
  const r = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${phase.concurrency}`,
      // A hung test fails after this long instead of holding CI to its limit.
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...phase.files,
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) failed = true;
  // The tap report's closing lines hold this run's counts: `# pass 12`, `# fail 0`, ...
  const text = readFileSync(tap, 'utf8');
  for (const key of Object.keys(totals) as (keyof typeof totals)[]) {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text);
    if (m) totals[key] += Number(m[1]);
  }
}
rmSync(tapDir, { recursive: true, force: true });
const failures = totals.fail + totals.cancelled;
process.stdout.write(`\ntests: ${totals.pass} passed, ${failures} failed, ${totals.skipped} skipped\n`);
process.exitCode = failed || failures > 0 ? 1 : 0;
