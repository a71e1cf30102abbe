/** The README's first lines and configuration table stay true to the code. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROXY_ENV } from '../proxy/runtime/config';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

test('the README opens with the set-up + run command and the test command', () => {
  const head = readme.split('\n').slice(0, 12).join('\n');
  assert.match(head, /npm ci && npm start/);
  assert.match(head, /^npm test/m);
});

test('the configuration table lists every LINNET_PROXY_* variable with its default', () => {
  for (const [name, v] of Object.entries(PROXY_ENV)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `README has no row for ${name}`);
    const shown = v.default === '' ? '(unset)' : `\`${v.default}\``;
    assert.ok(row.includes(`| ${shown} |`), `README row for ${name} does not show the default ${shown}: ${row}`);
  }
});

test('every variable the proxy code reads is in PROXY_ENV', () => {
  // A variable read somewhere in proxy/ but missing from the table would be undocumented.
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  const src = execFileSync('grep', ['-rhoE', 'LINNET_PROXY_[A-Z0-9_]+', join(__dirname, '..', '..', 'proxy'), '--include=*.ts'], {
    encoding: 'utf8',
  });
  const used = new Set(src.split('\n').filter((n) => n !== '' && !n.endsWith('_')));
  for (const name of used) assert.ok(name in PROXY_ENV, `${name} is read by the proxy but not in PROXY_ENV (and so not in the README)`);
});

test('the Layout section names every folder of core/, proxy/ and control/, and each folder it names exists', () => {
  const { readdirSync, existsSync } = require('node:fs') as typeof import('node:fs');
  const root = join(__dirname, '..', '..');
  const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('## Dependencies'));
  for (const top of ['core', 'proxy', 'control']) {
    for (const e of readdirSync(join(root, top), { withFileTypes: true })) {
      if (!e.isDirectory() || e.name === 'testdata') continue;
      assert.ok(layout.includes(`${top}/${e.name}/`) || layout.includes(`\`${e.name}/\``), `the Layout section does not mention ${top}/${e.name}/`);
    }
  }
  for (const m of layout.matchAll(/`((?:core|proxy|control|init|bench|fuzz|test)\/[a-z0-9/-]*)`/g)) {
    const p = join(root, m[1]!);
    assert.ok(existsSync(p) || existsSync(`${p}.test.ts`), `the Layout section names ${m[1]}, which does not exist`);
  }
});
