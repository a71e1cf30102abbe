/**
 * `npm start` from a checkout only root can read, as a clone into Debian's /root (mode 0700)
 * is: the proxy runs as uid 2102 and the apps as other uids, which cannot read it, so the demo
 * stages the runtime where they can, says so, and the mesh works as from any other path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stageDirFor } from '../control/local/pods/stage';
import { meshSkipReason, PROXY_UID, REPO_ROOT } from './pods';

const skip = meshSkipReason();

test('linnet demo from a 0700 checkout: staged for the proxy uid, the mesh serves, nothing left behind', { skip, timeout: 240_000 }, async () => {
  // The checkout: this build's runtime, hard-linked into a folder under a 0700 parent.
  const parent = mkdtempSync('/tmp/linnet-0700-');
  const checkout = join(parent, 'linnet');
  try {
    mkdirSync(join(checkout, 'proxy', 'transport', 'native'), { recursive: true });
    mkdirSync(join(checkout, 'core'), { recursive: true });
    for (const p of ['package.json', 'bin', 'dist', 'node_modules', 'proxy/transport/native/build', 'core/api']) {
      const r = spawnSync('cp', ['-al', join(REPO_ROOT, p), join(checkout, p)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    chmodSync(parent, 0o700);
    // The failure this is about: the proxy's uid cannot even reach the CLI there.
    const probe = spawnSync('setpriv', [`--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', 'test', '-r', join(checkout, 'bin', 'linnet')]);
    assert.equal(probe.status, 1, 'uid 2102 can read the 0700 checkout: the test proves nothing');

    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(checkout, 'bin', 'linnet'), 'demo', '--duration', '6s', '--rps', '10', '--interval', '2s'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill('SIGTERM'), 200_000);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
    const out = `${run.stdout}\n${run.stderr}`.slice(-4000);
    assert.equal(run.status, 0, out);
    assert.match(run.stderr, new RegExp(`staging the runtime in ${stageDirFor(checkout)} \\(${parent} is not readable by other users`), out);
    // The mesh served: web over mTLS, both replicas answered, the run's verdict is OK.
    assert.match(run.stdout, /mTLS web: (tls="true" on [1-9]\d* inbound|client proxy opened [1-9]\d* mTLS connections)/, out);
    assert.match(run.stdout, /client saw: HTTP [1-9]\d* ok \(web0 \d+, web1 \d+\)/, out);
    assert.match(run.stdout, /result: OK/, out);
    // The cluster it made is gone (its id is in the log dir it printed).
    const id = /linnet-pods\/(lnp\d+x[0-9a-f]{4})/.exec(run.stderr)?.[1];
    assert.ok(id, run.stderr);
    assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(id), 'namespaces left behind');
  } finally {
    rmSync(stageDirFor(checkout), { recursive: true, force: true });
    chmodSync(parent, 0o755);
    rmSync(parent, { recursive: true, force: true });
  }
});
