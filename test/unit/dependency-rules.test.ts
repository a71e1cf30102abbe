/**
 * The layer rules of .dependency-cruiser.cjs, run by dependency-cruiser over the sources: the
 * tree keeps them (no import cycle, accept/ never imports a protocol, protocol/ never imports the
 * stacks, nothing imports test/, ...), and a tree that breaks them is caught, rule by rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const TREES = ['core', 'proxy', 'control', 'init', 'bench', 'fuzz', 'test'];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

function cruise(cwd: string, dirs: string[]): Violation[] {
  const r = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', ...dirs], { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.ok(r.stdout.trim().startsWith('{'), `dependency-cruiser gave no report (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

test('the tree keeps every layer rule', { timeout: 120_000 }, () => {
  const violations = cruise(ROOT, TREES);
  const text = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
  assert.deepEqual(text, []);
});

test('a tree that breaks the rules is caught, each by its rule', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-deps-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  try {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true }, include: ['**/*.ts'] }));
    write('core/errors.ts', "import { start } from '../proxy/runtime/worker';\nexport const e = start;\n");
    write('proxy/runtime/worker.ts', "import { serve } from '../accept/serve';\nexport const start = serve;\n");
    write('proxy/accept/serve.ts', "import { h1 } from '../protocol/h1';\nexport const serve = h1;\n");
    write('proxy/protocol/h1.ts', "import { route } from '../outbound/route';\nimport { later } from './h2';\nexport const h1 = route + later;\n");
    write('proxy/protocol/h2.ts', "import { h1 } from './h1';\nexport const later = String(h1);\n");
    write('proxy/outbound/route.ts', "import { helper } from '../../test/support';\nimport { x } from '../../control/x';\nimport { start } from '../runtime/worker';\nexport const route = helper + x + String(start);\n");
    write('proxy/metrics/m.ts', "import { Counter } from 'prom-client';\nexport const m = Counter;\n");
    write('control/x.ts', 'export const x = 1;\n');
    write('test/support.ts', 'export const helper = 1;\n');
    const rules = new Set(cruise(dir, ['core', 'proxy', 'control', 'test']).map((v) => v.rule.name));
    for (const rule of ['no-circular', 'core-is-the-floor', 'accept-knows-no-protocol', 'protocol-speaks-only-the-wire', 'nothing-imports-test', 'proxy-is-its-own', 'runtime-on-top', 'proxy-metrics-without-prom-client']) {
      assert.ok(rules.has(rule), `${rule} not reported; got ${[...rules].join(', ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
