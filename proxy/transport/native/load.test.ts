import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PlatformError } from '../../../core/errors';
import { addonCandidates, ADDON_FILE, loadBinding } from './load';

test('addon candidates cover the source tree and the compiled dist tree', () => {
  const fromDist = addonCandidates('/pkg/dist/proxy/transport/native');
  assert.ok(fromDist.includes(join('/pkg/proxy/transport/native/build/Release', ADDON_FILE)));
  assert.ok(fromDist.indexOf(join('/pkg/proxy/transport/native/build/Release', ADDON_FILE)) < fromDist.indexOf(join('/pkg/proxy/transport/native/build/Debug', ADDON_FILE)));
  assert.ok(addonCandidates('/pkg/proxy/transport/native').includes(join('/pkg/proxy/transport/native/build/Release', ADDON_FILE)));
});

function platformError(f: () => unknown): PlatformError {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected PlatformError, got ${String(err)}`);
    assert.equal(err.code, 'LINNET_PLATFORM_UNSUPPORTED');
    assert.ok(err.hint);
    return err;
  }
  assert.fail('expected a PlatformError');
}

test('loader: a non-Linux platform is a PlatformError before anything is loaded', () => {
  let loaded = false;
  const e = platformError(() => loadBinding({ platform: 'darwin', exists: () => true, load: () => (loaded = true) }));
  assert.equal(loaded, false);
  assert.match(e.message, /needs Linux.*darwin/);
});

test('loader: a missing .node file is a PlatformError naming where it looked, not MODULE_NOT_FOUND', () => {
  const e = platformError(() => loadBinding({ platform: 'linux', candidates: ['/nope/a.node', '/nope/b.node'] }));
  assert.match(e.message, /not built.*\/nope\/a\.node, \/nope\/b\.node/);
  assert.match(e.hint ?? '', /node-gyp/);
});

test('loader: a file that fails to load, a stub and a stale build are PlatformErrors', () => {
  const bad = platformError(() =>
    loadBinding({ platform: 'linux', candidates: ['/x.node'], exists: () => true, load: () => { throw new Error('invalid ELF header'); } }),
  );
  assert.match(bad.message, /cannot be loaded: invalid ELF header/);
  assert.ok(bad.cause instanceof Error);
  platformError(() => loadBinding({ platform: 'linux', candidates: ['/x.node'], exists: () => true, load: () => ({ unsupported: true }) }));
  const stale = platformError(() =>
    loadBinding({ platform: 'linux', candidates: ['/x.node'], exists: () => true, load: () => ({ originalDst() {}, listenReusePort() {} }) }),
  );
  assert.match(stale.message, /lacks closeFd\(\)/);
});

test('loader: picks the first candidate that exists', () => {
  const fake = { originalDst() {}, listenReusePort() {}, closeFd() {}, probe() {}, spliceInit() {}, spliceStart() {}, spliceAbort() {}, spliceShutdown() {} };
  const seen: string[] = [];
  const b = loadBinding({
    platform: 'linux',
    candidates: ['/a.node', '/b.node', '/c.node'],
    exists: (p) => p !== '/a.node',
    load: (p) => (seen.push(p), fake),
  });
  assert.equal(b, fake);
  assert.deepEqual(seen, ['/b.node']);
});

test('a copy of the compiled module without a build: import works, first use is a PlatformError', async () => {
  const { mkdtempSync, cpSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const root = mkdtempSync(join(tmpdir(), 'linnet-native-'));
  try {
    // dist/core/errors.js and dist/proxy/transport/native/*.js with no build next to them.
    cpSync(join(__dirname, '..', '..', '..', 'core', 'errors.js'), join(root, 'dist', 'core', 'errors.js'));
    for (const f of ['index.js', 'load.js', 'errors.js']) cpSync(join(__dirname, f), join(root, 'dist', 'proxy', 'transport', 'native', f));
    const script = `
      const n = require(${JSON.stringify(join(root, 'dist', 'proxy', 'transport', 'native', 'index.js'))});
      try { n.listenReusePort('127.0.0.1', 0, 4); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { name: string; code: string; message: string };
    assert.equal(out.name, 'PlatformError');
    assert.equal(out.code, 'LINNET_PLATFORM_UNSUPPORTED');
    assert.match(out.message, /not built/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
