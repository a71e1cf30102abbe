import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { DiscoveredEndpoint, DiscoveryClient, EndpointSet } from './discovery';
import { createLogger } from '../../core/log';
import { OutboundBalancers } from './balancers';

/** A discovery client whose one endpoint set the test drives (unit test: no control plane). */
function fakeDiscovery(initial: DiscoveredEndpoint[]) {
  let eps = initial;
  const set = Object.assign(new EventEmitter(), {
    target: '10.0.0.1:80',
    endpoints: () => eps,
    exists: () => true,
    protocol: () => undefined,
    connected: () => true,
    ready: async () => true,
    release: () => {},
  }) as EndpointSet;
  const client: DiscoveryClient = { resolve: () => set, size: () => 1, close: () => {} };
  return {
    client,
    push(next: DiscoveredEndpoint[]) {
      eps = next;
      set.emit('update', next);
    },
  };
}

const ep = (ip: string, weight: number): DiscoveredEndpoint => ({ address: `${ip}:8080`, ip, port: 8080, weight, labels: {} });

test("discovery's endpoint weights reach the balancer, on the first answer and on updates", async () => {
  const d = fakeDiscovery([ep('10.1.0.1', 20_000), ep('10.1.0.2', 10_000)]);
  const obs = new OutboundBalancers(d.client, { readyTimeoutMs: 100, log: createLogger('error', 'test') });
  try {
    const r = await obs.route('10.0.0.1', 80);
    assert.equal(r.kind, 'balanced');
    const b = (r as Extract<typeof r, { kind: 'balanced' }>).balancer;
    assert.equal(b.load('10.1.0.1:8080')!.weightFactor, 2);
    assert.equal(b.load('10.1.0.2:8080')!.weightFactor, 1);
    d.push([ep('10.1.0.1', 5_000), ep('10.1.0.2', 10_000)]);
    assert.equal(b.load('10.1.0.1:8080')!.weightFactor, 0.5);
  } finally {
    obs.close();
  }
});
