import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRetryable, overlay, parseGoDuration, readRouteAnnotations } from './annotations';
import { pickBackend } from './backend';
import { RetryBudgetTracker } from './budget';
import type { Backend } from './model';

const backend = (name: string, weight: number): Backend => ({ ref: { group: 'core', kind: 'Service', namespace: 'demo', name, port: 80 }, authority: `${name}.demo.svc.cluster.local:80`, weight });

describe('pickBackend', () => {
  it('splits by weight over the unit interval', () => {
    const bs = [backend('a', 90), backend('b', 10)];
    let a = 0;
    for (let i = 0; i < 1000; i++) if (pickBackend(bs, i / 1000)!.ref.name === 'a') a++;
    assert.equal(a, 900);
  });
  it('never picks a zero weight, and has nothing when every weight is 0', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 0.9999999, noNaN: true }), (r) => pickBackend([backend('a', 0), backend('b', 5)], r)!.ref.name === 'b'));
    assert.equal(pickBackend([backend('a', 0)], 0.5), undefined);
    assert.equal(pickBackend([], 0.5), undefined);
  });
});

describe('route annotations', () => {
  it('reads Linkerd 2.16 retry statuses, ranges, names and the default limit', () => {
    const p: string[] = [];
    const s = readRouteAnnotations({ 'retry.linkerd.io/http': '5xx, 429, 400-403', 'retry.linkerd.io/grpc': 'unavailable,DEADLINE_EXCEEDED' }, p);
    assert.deepEqual(p, []);
    assert.deepEqual(s.retry, { limit: 1, statuses: [[500, 599], [429, 429], [400, 403]], grpcCodes: [14, 4] });
    assert.ok(isRetryable(s.retry!, 503, undefined));
    assert.ok(isRetryable(s.retry!, 200, 14));
    assert.ok(!isRetryable(s.retry!, 404, 0));
    const g = readRouteAnnotations({ 'retry.linkerd.io/http': 'gateway-error', 'retry.linkerd.io/limit': '2', 'retry.linkerd.io/timeout': '250ms' }, p);
    assert.deepEqual(g.retry, { limit: 2, statuses: [[502, 504]], grpcCodes: [], timeoutMs: 250 });
  });
  it('reads timeouts, failure accrual and the budget', () => {
    const p: string[] = [];
    const s = readRouteAnnotations(
      {
        'timeout.linkerd.io/request': '300ms',
        'timeout.linkerd.io/response': '1m30s',
        'timeout.linkerd.io/idle': '0s',
        'balancer.linkerd.io/failure-accrual': 'consecutive',
        'balancer.linkerd.io/failure-accrual-consecutive-max-failures': '3',
        'balancer.linkerd.io/failure-accrual-consecutive-min-penalty': '2s',
        'retry.linnet.io/budget': '10%,5',
      },
      p,
    );
    assert.deepEqual(p, []);
    assert.deepEqual(s.timeouts, { requestMs: 300, responseMs: 90_000 });
    assert.deepEqual(s.failureAccrual, { maxFailures: 3, minPenaltyMs: 2000, maxPenaltyMs: 60_000, jitterRatio: 0.5 });
    assert.deepEqual(s.budget, { ratio: 0.1, minPerSecond: 5 });
  });
  it('lists every bad value with its annotation and the accepted form', () => {
    const p: string[] = [];
    readRouteAnnotations({ 'retry.linkerd.io/http': '5xx,6xx', 'retry.linkerd.io/grpc': 'sometimes', 'retry.linkerd.io/limit': '-1', 'timeout.linkerd.io/request': '3 seconds', 'balancer.linkerd.io/failure-accrual': 'random', 'retry.linnet.io/budget': 'lots' }, p);
    assert.equal(p.length, 6, p.join('\n'));
    assert.match(p[0]!, /^metadata\.annotations\.retry\.linkerd\.io\/http: "6xx" is not 5xx, gateway-error/);
    assert.ok(p.some((x) => x.startsWith('metadata.annotations.timeout.linkerd.io/request: "3 seconds" is not a duration')));
  });
  it('the route decides a group it names; the Service fills the rest', () => {
    const p: string[] = [];
    const svc = readRouteAnnotations({ 'retry.linkerd.io/http': '5xx', 'timeout.linkerd.io/request': '1s' }, p);
    const rt = readRouteAnnotations({ 'retry.linkerd.io/grpc': 'unavailable' }, p);
    const o = overlay(svc, rt);
    assert.deepEqual(o.retry?.grpcCodes, [14]);
    assert.deepEqual(o.retry?.statuses, []);
    assert.deepEqual(o.timeouts, { requestMs: 1000 });
  });
  it('parses Go durations', () => {
    assert.deepEqual(['300ms', '1.5s', '1h2m3s', '0', '10us', 'x', '5', ''].map(parseGoDuration), [300, 1500, 3_723_000, 0, 0.01, undefined, undefined, undefined]);
  });
});

describe('RetryBudgetTracker', () => {
  it('allows the floor, then 20% of requests, and refills as the window slides', () => {
    let t = 0;
    const b = new RetryBudgetTracker({ ratio: 0.2, minPerSecond: 1 }, () => t);
    // Floor: 1/s over a 10 s window = 10 retries with no requests at all.
    let ok = 0;
    for (let i = 0; i < 50; i++) if (b.tryRetry()) ok++;
    assert.equal(ok, 10);
    for (let i = 0; i < 100; i++) b.request();
    ok = 0;
    for (let i = 0; i < 50; i++) if (b.tryRetry()) ok++;
    assert.equal(ok, 20); // 20% of 100
    t = 11_000; // the window has passed: requests and retries forgotten
    ok = 0;
    for (let i = 0; i < 50; i++) if (b.tryRetry()) ok++;
    assert.equal(ok, 10);
  });
});
