import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limit';

/** `rps` requests a second evenly from `identity` over `seconds`, interleaved with others; counts admitted. */
function drive(l: RateLimiter, clients: { identity: string | undefined; rps: number }[], seconds: number): number[] {
  const admitted = clients.map(() => 0);
  const events: { t: number; i: number }[] = [];
  clients.forEach((c, i) => {
    for (let k = 0; k < c.rps * seconds; k++) events.push({ t: (k * 1000) / c.rps + i * 0.37, i });
  });
  events.sort((a, b) => a.t - b.t);
  for (const e of events) if (!l.admit(clients[e.i]!.identity, e.t)) admitted[e.i]!++;
  return admitted;
}

describe('HTTPLocalRateLimitPolicy (GCRA)', () => {
  it('a client at twice its limit for 10 s is served within 5% of its limit; another identity under its own loses nothing', () => {
    const l = new RateLimiter({ name: 'rl', total: 0, identity: 100, overrides: [] });
    const [hot, calm] = drive(l, [{ identity: 'hot', rps: 200 }, { identity: 'calm', rps: 80 }], 10);
    assert.ok(Math.abs(hot! - 1000) <= 50, `hot served ${hot}`);
    assert.equal(calm, 800);
  });
  it('unmeshed clients share one budget; overrides replace the identity limit', () => {
    const l = new RateLimiter({ name: 'rl', total: 0, identity: 50, overrides: [{ requestsPerSecond: 200, identities: ['vip'] }] });
    const [a, b, vip] = drive(l, [{ identity: undefined, rps: 50 }, { identity: undefined, rps: 50 }, { identity: 'vip', rps: 150 }], 10);
    assert.ok(Math.abs(a! + b! - 500) <= 25, `unmeshed together ${a! + b!}`);
    assert.equal(vip, 1500);
  });
  it('the total caps everyone together', () => {
    const l = new RateLimiter({ name: 'rl', total: 100, identity: 0, overrides: [] });
    const served = drive(l, [{ identity: 'a', rps: 100 }, { identity: 'b', rps: 100 }], 10);
    const total = served[0]! + served[1]!;
    assert.ok(Math.abs(total - 1000) <= 50, `total ${total}`);
  });
  it('a refusal says which budget and how long to wait', () => {
    const l = new RateLimiter({ name: 'rl', total: 0, identity: 10, overrides: [] });
    let refusal;
    for (let i = 0; i < 5 && !refusal; i++) refusal = l.admit('x', 0);
    assert.ok(refusal);
    assert.equal(refusal.scope, 'identity');
    assert.ok(refusal.retryAfterMs > 0 && refusal.retryAfterMs <= 100, String(refusal.retryAfterMs));
  });
});
