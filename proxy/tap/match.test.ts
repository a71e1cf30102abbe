import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TapMatch } from '../../core/api/tap';
import { compileMatch, type TapView } from './match';

const view: TapView = {
  sourceIp: '10.1.0.7',
  sourcePort: 40000,
  destinationIp: '10.1.0.12',
  destinationPort: 8080,
  method: 'POST',
  scheme: 'http',
  authority: 'Web.Demo.svc.cluster.local:80',
  path: '/api/items',
  destinationLabels: { pod: 'web-0', service: 'web' },
  routeLabels: {},
};

test('each condition matches what it names and nothing else', () => {
  const cases: [TapMatch, boolean][] = [
    [{ source: { net: '10.1.0.0/16' } }, true],
    [{ source: { net: '10.2.0.0/16' } }, false],
    [{ source: { net: 'fd00::/8' } }, false],
    [{ destination: { net: '10.1.0.12/32' } }, true],
    [{ destination: { ports: { min: 8080, max: 8080 } } }, true],
    [{ destination: { ports: { min: 1, max: 8079 } } }, false],
    [{ source: { ports: { min: 30000, max: 50000 } } }, true],
    [{ method: 'POST' }, true],
    [{ method: 'post' }, true],
    [{ method: 'GET' }, false],
    [{ scheme: 'http' }, true],
    [{ scheme: 'https' }, false],
    [{ authority: { exact: 'web.demo.svc.cluster.local:80' } }, true],
    [{ authority: { exact: 'web.demo.svc.cluster.local' } }, false],
    [{ authority: { prefix: 'web.' } }, true],
    [{ path: { prefix: '/api' } }, true],
    [{ path: { prefix: '/API' } }, false],
    [{ path: { exact: '/api/items' } }, true],
    [{ path: { exact: '/api' } }, false],
    [{ destinationLabel: { key: 'pod', value: 'web-0' } }, true],
    [{ destinationLabel: { key: 'pod', value: 'web-1' } }, false],
    [{ destinationLabel: { key: 'deployment', value: '' } }, false],
    [{ routeLabel: { key: 'route', value: 'x' } }, false],
    [{ all: [] }, true],
    [{ any: [] }, false],
  ];
  for (const [m, want] of cases) assert.equal(compileMatch(m)(view), want, JSON.stringify(m));
  assert.equal(compileMatch(undefined)(view), true);
  // An IPv4-mapped source (a dual-stack listener's view) is its IPv4 address.
  assert.equal(compileMatch({ source: { net: '10.1.0.0/16' } })({ ...view, sourceIp: '::ffff:10.1.0.7' }), true);
});

// Leaves with known truth values against `view`, so the combinators' laws can be checked.
const leaf = fc.oneof(
  fc.constant<TapMatch>({ method: 'POST' }),
  fc.constant<TapMatch>({ method: 'GET' }),
  fc.constant<TapMatch>({ path: { prefix: '/api' } }),
  fc.constant<TapMatch>({ destination: { ports: { min: 1, max: 80 } } }),
  fc.constant<TapMatch>({ source: { net: '10.0.0.0/8' } }),
  fc.constant<TapMatch>({ destinationLabel: { key: 'pod', value: 'web-1' } }),
);
const tree = fc.letrec<{ m: TapMatch }>((tie) => ({
  m: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('m'), { maxLength: 4 }).map((all) => ({ all })),
    fc.array(tie('m'), { maxLength: 4 }).map((any) => ({ any })),
    tie('m').map((not) => ({ not })),
  ),
})).m;

/** The reference semantics, written plainly. */
function truth(m: TapMatch): boolean {
  if ('all' in m) return m.all.every(truth);
  if ('any' in m) return m.any.some(truth);
  if ('not' in m) return !truth(m.not);
  return compileMatch(m)(view);
}

test('combinators: all is conjunction, any disjunction, not negation, De Morgan holds (property)', () => {
  fc.assert(
    fc.property(tree, fc.array(tree, { maxLength: 4 }), (m, ms) => {
      const p = (x: TapMatch) => compileMatch(x)(view);
      assert.equal(p(m), truth(m));
      assert.equal(p({ not: { not: m } }), p(m));
      assert.equal(p({ all: ms }), ms.every(p));
      assert.equal(p({ any: ms }), ms.some(p));
      assert.equal(p({ not: { all: ms } }), p({ any: ms.map((x) => ({ not: x })) }));
      assert.equal(p({ not: { any: ms } }), p({ all: ms.map((x) => ({ not: x })) }));
    }),
    { numRuns: 500 },
  );
});
