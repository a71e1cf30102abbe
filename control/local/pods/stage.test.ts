/**
 * Staging a checkout other users cannot read: what blocks them is named, the staged copy is
 * readable by everyone, one build is staged once, a rebuild is staged again, and paths in a
 * command move to the stage only when there is one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockedForOthers, prepareRuntime, remapPath, stageDirFor } from './stage';

/** A checkout's runtime in miniature: the files node would read first, with the modes given. */
function fakeCheckout(parentMode: number, fileMode = 0o644): { parent: string; checkout: string } {
  const parent = mkdtempSync(join(tmpdir(), 'linnet-stage-test-'));
  const checkout = join(parent, 'linnet');
  for (const d of ['bin', 'dist/core', 'node_modules/prom-client', 'core/api']) mkdirSync(join(checkout, d), { recursive: true });
  const files = { 'bin/linnet': '#!/usr/bin/env node\n', 'package.json': '{}', 'dist/core/cli.js': 'exports.main = () => 0;\n', 'node_modules/prom-client/package.json': '{}', 'core/api/x.proto': 'syntax = "proto3";\n' };
  for (const [p, text] of Object.entries(files)) {
    writeFileSync(join(checkout, p), text);
    chmodSync(join(checkout, p), fileMode);
  }
  chmodSync(parent, parentMode);
  return { parent, checkout };
}

test('a readable checkout is used as it is; a 0700 folder on the way is named', () => {
  const open = fakeCheckout(0o755);
  const closed = fakeCheckout(0o700);
  try {
    assert.equal(blockedForOthers(open.checkout), undefined);
    assert.deepEqual(prepareRuntime(open.checkout), { root: open.checkout });
    assert.equal(blockedForOthers(closed.checkout), closed.parent);
  } finally {
    rmSync(open.parent, { recursive: true, force: true });
    rmSync(closed.parent, { recursive: true, force: true });
  }
});

test('files only their owner may read (umask 077) are found too', () => {
  const c = fakeCheckout(0o755, 0o600);
  try {
    assert.equal(blockedForOthers(c.checkout), join(c.checkout, 'bin', 'linnet'));
  } finally {
    rmSync(c.parent, { recursive: true, force: true });
  }
});

test('a checkout under a 0700 folder is staged readable for everyone, once per build', () => {
  const c = fakeCheckout(0o700, 0o600);
  const steps: string[] = [];
  try {
    const r = prepareRuntime(c.checkout, (s) => steps.push(s));
    assert.equal(r.root, stageDirFor(c.checkout));
    assert.match(r.stagedBecause!, /not readable by other users/);
    assert.equal(steps.length, 1);
    assert.match(steps[0]!, /^staging the runtime in /);
    assert.equal(blockedForOthers(r.root), undefined, 'the stage is readable by other users');
    assert.equal(readFileSync(join(r.root, 'dist', 'core', 'cli.js'), 'utf8'), 'exports.main = () => 0;\n');
    assert.ok(existsSync(join(r.root, 'core', 'api', 'x.proto')));
    assert.equal(statSync(join(r.root, 'bin', 'linnet')).mode & 0o777, 0o644, 'readable, and no more than that');

    // The same build again: the stage is reused, nothing is copied.
    prepareRuntime(c.checkout, (s) => steps.push(s));
    assert.match(steps[1]!, /^using the runtime staged in /);

    // A rebuild: staged again, with the new file.
    writeFileSync(join(c.checkout, 'dist', 'core', 'cli.js'), 'exports.main = () => 1;\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(join(c.checkout, 'dist', 'core', 'cli.js'), later, later);
    prepareRuntime(c.checkout, (s) => steps.push(s));
    assert.match(steps[2]!, /^staging the runtime in /);
    assert.equal(readFileSync(join(r.root, 'dist', 'core', 'cli.js'), 'utf8'), 'exports.main = () => 1;\n');
  } finally {
    rmSync(stageDirFor(c.checkout), { recursive: true, force: true });
    rmSync(c.parent, { recursive: true, force: true });
  }
});

test('paths into the checkout move to the stage, and only those', () => {
  assert.equal(remapPath('/root/linnet/bin/linnet', '/root/linnet', '/var/tmp/s/1'), '/var/tmp/s/1/bin/linnet');
  assert.equal(remapPath('--require /root/linnet/dist/x.js', '/root/linnet', '/var/tmp/s/1'), '--require /var/tmp/s/1/dist/x.js');
  assert.equal(remapPath('/root/linnet-other/x', '/root/linnet', '/var/tmp/s/1'), '/root/linnet-other/x');
  assert.equal(remapPath('/root/linnet/bin/linnet', '/root/linnet', '/root/linnet'), '/root/linnet/bin/linnet');
});
