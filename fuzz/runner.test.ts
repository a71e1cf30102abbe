import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './runner';
import type { FuzzTarget } from './target';

test('the event loop turns while fuzzing: timers a target leaves behind run, so what they hold is freed', async () => {
  let scheduled = 0;
  let fired = 0;
  const target: FuzzTarget = {
    name: 'leaves-timers',
    properties: ['none'],
    run: () => {
      scheduled++;
      // As a closing H2Connection does: a short timer that holds its state until it fires.
      setTimeout(() => fired++, 1).unref();
    },
  };
  const report = await runFuzz({ target, timeMs: 400, seed: 1, seeds: [Buffer.from('x')], coverage: false, saveFindings: false });
  assert.ok(report.execs > 100, `${report.execs} executions`);
  // Without a turn of the loop between executions none would have fired before the run ended.
  assert.ok(fired > 0 && scheduled - fired < scheduled / 2, `${fired} of ${scheduled} timers fired during the run`);
});
