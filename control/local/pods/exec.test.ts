import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodProcess, run, runOk, tail } from './exec';
import { PodError } from './errors';

test('run collects stdout, stderr, exit code and feeds stdin', async () => {
  const r = await run(['sh', '-c', 'cat; echo err >&2; exit 3'], { input: 'hello' });
  assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'hello', 'err\n']);
});

test('runOk throws a typed error carrying the stderr tail', async () => {
  await assert.rejects(
    () => runOk(['sh', '-c', 'echo boom >&2; exit 1']),
    (e: unknown) => e instanceof PodError && e.code === 'LINNET_POD_COMMAND_FAILED' && /boom/.test(e.message),
  );
  await assert.rejects(() => runOk(['/nonexistent/program']), (e: unknown) => e instanceof PodError);
});

test('a timeout kills the whole process group, grandchildren included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-exec-'));
  try {
    const pidFile = join(dir, 'pid');
    await assert.rejects(
      () => run(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 }),
      (e: unknown) => e instanceof PodError && e.code === 'LINNET_POD_TIMEOUT',
    );
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(`/proc/${grandchild}`) && !readFileSync(`/proc/${grandchild}/stat`, 'utf8').includes(') Z '), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PodProcess logs to its file, reports JSON events, and stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-exec-'));
  try {
    const log = join(dir, 'p.log');
    const p = new PodProcess('ticker', ['sh', '-c', 'echo \'{"event":"up","n":1}\'; echo to-stderr >&2; exec sleep 30'], log, process.env);
    const e = await p.waitForEvent<{ event: string; n: number }>((x) => x.event === 'up');
    assert.equal(e.n, 1);
    assert.equal(p.running, true);
    const exit = await p.stop(500);
    assert.equal(exit.signal, 'SIGTERM');
    assert.equal(p.running, false);
    const text = readFileSync(log, 'utf8');
    assert.match(text, /^# .* sh -c/m);
    assert.match(text, /to-stderr/);
    assert.match(p.logTail(1), /# exited SIGTERM/);
    await assert.rejects(() => p.waitForEvent<{ event: string }>((x) => x.event === 'never', 1000), /exited/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tail keeps the last lines', () => {
  assert.equal(tail('a\nb\nc\n', 2), 'b\nc');
  assert.equal(tail('', 3), '');
});
