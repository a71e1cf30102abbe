import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { merged } from './merged';

setFlagsFromString('--allow-natives-syntax');
// Parsed after the flag: V8's own answers about an object's hidden class.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const hasFastProperties = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;

/** Two objects from a site made hot first, as a proxy's per-request code is. */
function twoFromHotSite(make: (i: number) => object): [object, object] {
  for (let i = 0; i < 20_000; i++) make(i);
  return [make(1), make(2)];
}

test('a literal that starts with a spread and goes on gets a hidden class per object once hot (the reason for merged)', () => {
  const base = { direction: 'inbound', target_addr: '10.0.0.1:80' };
  const [a, b] = twoFromHotSite((i) => ({ ...base, errno: String(i) }));
  assert.equal(haveSameMap(a, b), false, 'this V8 shares the map now: merged may no longer be needed');
});

test('merged: later fields win, and objects from a hot site share one fast hidden class', () => {
  assert.deepEqual(merged({ a: 1, b: 2 }, { b: 3, c: 4 }), { a: 1, b: 3, c: 4 });
  assert.deepEqual(Object.keys(merged({ x: 1, le: 0 }, { y: 2 })), ['x', 'le', 'y'], 'label order kept');
  const base = { direction: 'inbound', target_addr: '10.0.0.1:80' };
  const [a, b] = twoFromHotSite((i) => merged(base, { errno: String(i) }));
  assert.equal(hasFastProperties(a), true);
  assert.equal(haveSameMap(a, b), true);
});

/** Each object literal in `src` that starts with a spread and has more after it, as line numbers. */
export function spreadFirstLiterals(src: string): number[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
  const found: number[] = [];
  const re = /\{\s*\.\.\./g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    let depth = 0;
    for (let i = m.index + m[0].length; i < code.length; i++) {
      const c = code[i]!;
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) {
        found.push(code.slice(0, m.index).split('\n').length);
        break;
      }
    }
  }
  return found;
}

test('the scan finds a literal that starts with a spread and goes on, and nothing else', () => {
  assert.deepEqual(spreadFirstLiterals('const a = { ...b, c };\nconst d = { e, ...f };\nconst g = { ...h };\n// { ...x, y }\nconst i = [...j, k];'), [1]);
  assert.deepEqual(spreadFirstLiterals('f({ ...(x ?? {}), ...y });\nf({ ...g(1, 2) })'), [1]);
});

test('proxy code builds no object literal that starts with a spread and goes on (use merged)', () => {
  // From dist/core back to the sources.
  const src = join(__dirname, '..', '..', 'proxy');
  // Start-up code, run once per process (the supervisor's clients, the tap server's TLS options).
  const once = new Set(['runtime/supervisor.ts', 'tap/server.ts']);
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !once.has(relative(src, p))) for (const line of spreadFirstLiterals(readFileSync(p, 'utf8'))) bad.push(`${relative(src, p)}:${line}`);
    }
  };
  walk(src);
  assert.deepEqual(bad, []);
});
