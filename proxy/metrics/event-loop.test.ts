import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from './registry';
import { EventLoopMetrics } from './event-loop';

async function quantiles(r: Registry): Promise<Record<string, number>> {
  const m = r.families().find((x) => x.name === 'event_loop_delay_seconds')!;
  return Object.fromEntries(m.samples.map((v) => [String(v.labels.quantile), v.value]));
}

test('a blocked event loop shows in the delay quantiles, and the next scrape starts afresh', async () => {
  const r = new Registry();
  const m = new EventLoopMetrics(r, 5);
  try {
    await sleep(50);
    const until = Date.now() + 80;
    while (Date.now() < until) {
      // a long synchronous task: everything due waits behind it
    }
    await sleep(30);
    const busy = await quantiles(r);
    assert.ok(busy['1']! >= 0.06, `max ${busy['1']}`);
    assert.ok(busy['0.5']! < busy['1']!, JSON.stringify(busy));
    await sleep(100);
    const calm = await quantiles(r);
    assert.ok(calm['1']! < 0.05, `after the reset the 80 ms pause is gone: ${JSON.stringify(calm)}`);
    // The sampling interval (5 ms here) is not delay: a calm loop's median is below it.
    assert.ok(calm['0.5']! < 0.005, `calm median ${calm['0.5']}`);
  } finally {
    m.close();
  }
});
