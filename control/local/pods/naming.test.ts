import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeAddress, hostVethName, isValidPodName, namespaceName, newClusterId, ownerPid, podAddress, randomSubnet } from './naming';

test('cluster ids carry the owner pid and differ per call', () => {
  const a = newClusterId(4242);
  const b = newClusterId(4242);
  assert.match(a, /^lnp4242x[0-9a-f]{4}$/);
  assert.equal(ownerPid(namespaceName(a, 'node')), 4242);
  assert.equal(ownerPid(namespaceName(a, 'client')), 4242);
  // 1 in 65536 chance of a clash; two more draws make a false failure negligible.
  assert.ok(a !== b || newClusterId(4242) !== newClusterId(4242));
});

test('ownerPid leaves foreign namespaces alone', () => {
  for (const name of ['lnp12-node', 'lnpx1234-node', 'lnp12x12345-node', 'lnp12xabcd', 'other', 'lnp12xABCD-node', 'xlnp12xabcd-node']) {
    assert.equal(ownerPid(name), undefined, name);
  }
});

test('subnets are 10.x.y/24, bridge .1, pods from .10', () => {
  for (let i = 0; i < 200; i++) {
    const s = randomSubnet();
    assert.equal(s.base[0], 10);
    assert.ok(s.base[1] >= 1 && s.base[1] <= 254 && s.base[1] !== 96);
    assert.ok(s.base[2] >= 0 && s.base[2] <= 255);
  }
  const s = { base: [10, 5, 6] as [number, number, number] };
  assert.equal(bridgeAddress(s), '10.5.6.1');
  assert.equal(podAddress(s, 0), '10.5.6.10');
  assert.equal(podAddress(s, 240), '10.5.6.250');
  assert.throws(() => podAddress(s, 241), RangeError);
  assert.throws(() => podAddress(s, -1), RangeError);
});

test('pod names are short lowercase words and veth names fit IFNAMSIZ', () => {
  assert.ok(isValidPodName('client'));
  assert.ok(isValidPodName('b2'));
  for (const bad of ['', 'node', 'Client', '2a', 'a-b', 'a'.repeat(17)]) assert.ok(!isValidPodName(bad), bad);
  assert.ok(hostVethName(240).length <= 15);
});
