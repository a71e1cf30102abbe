import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeControlViews, nextStep, type ControlView, type RotationRecord, type StoreView } from './anchor-plan';

const r: RotationRecord = { oldAnchor: 'old', newAnchor: 'new', newAnchorPem: '', newAnchorKeyPem: '', startedAt: 1000, done: {} };
const proxy = (anchors: string[], issuerAnchor: string) => ({ identity: 'web', anchors, issuerAnchor, leafNotAfter: 1e12 });
const control = (proxies: ControlView['proxies'], startedAt = 0): ControlView => ({ startedAt, leafLifetimeMs: 30_000, proxies });

describe('anchor rotation plan', () => {
  it('walks add → spread → issuer → leaves → drop, each step judged from the store', () => {
    const s0: StoreView = { bundle: ['old'], signingAnchor: 'old', issuerAnchor: 'old' };
    const first = nextStep(r, s0, control([]), 2000);
    assert.equal(first.kind === 'run' && first.step, 'add');
    const s1: StoreView = { ...s0, bundle: ['old', 'new'] };
    const rec = { ...r, done: { add: 2000 } };
    const waiting = nextStep(rec, s1, control([proxy(['old', 'new'], 'old'), proxy(['old'], 'old')]), 3000);
    assert.equal(waiting.kind, 'wait');
    assert.equal(waiting.kind === 'wait' && `${waiting.step} ${waiting.have}/${waiting.of}`, 'spread 1/2');
    const go = nextStep(rec, s1, control([proxy(['old', 'new'], 'old'), proxy(['old', 'new'], 'old')]), 4000);
    assert.deepEqual(go.kind === 'run' && go.step, 'issuer');
    const s2: StoreView = { ...s1, signingAnchor: 'new' };
    assert.match(JSON.stringify(nextStep(rec, s2, control([]), 4000)), /waiting for the control plane to make the issuer/);
    const s3: StoreView = { ...s2, issuerAnchor: 'new' };
    const rec3 = { ...rec, done: { add: 2000, issuer: 5000 } };
    const w4 = nextStep(rec3, s3, control([proxy(['old', 'new'], 'new'), proxy(['old', 'new'], 'old')]), 6000);
    assert.equal(w4.kind === 'wait' && `${w4.step} ${w4.have}/${w4.of}`, 'leaves 1/2');
    const drop = nextStep(rec3, s3, control([proxy(['old', 'new'], 'new'), proxy(['old', 'new'], 'new')]), 7000);
    assert.equal(drop.kind === 'run' && drop.step, 'drop');
    assert.equal(nextStep(rec3, { ...s3, bundle: ['new'] }, control([]), 8000).kind, 'finished');
  });
  it('a control plane restarted after a step began cannot vouch for proxies it never saw: wait a leaf lifetime', () => {
    const rec = { ...r, done: { add: 2000 } };
    const s1: StoreView = { bundle: ['old', 'new'], signingAnchor: 'old', issuerAnchor: 'old' };
    const restarted = control([proxy(['old', 'new'], 'old')], 10_000);
    const w = nextStep(rec, s1, restarted, 20_000);
    assert.equal(w.kind, 'wait');
    assert.match(w.kind === 'wait' ? w.detail : '', /restarted since/);
    assert.equal(nextStep(rec, s1, restarted, 2000 + 30_000).kind, 'run');
  });
  it('without a control plane to ask, it never proceeds past a wait', () => {
    const rec = { ...r, done: { add: 2000 } };
    const d = nextStep(rec, { bundle: ['old', 'new'], signingAnchor: 'old', issuerAnchor: 'old' }, undefined, 1e12);
    assert.equal(d.kind, 'wait');
  });
  it('an expired proxy does not hold the rotation up', () => {
    const rec = { ...r, done: { add: 2000 } };
    const gone = { ...proxy(['old'], 'old'), leafNotAfter: 2500 };
    const d = nextStep(rec, { bundle: ['old', 'new'], signingAnchor: 'old', issuerAnchor: 'old' }, control([gone]), 3000);
    assert.equal(d.kind === 'run' && d.step, 'issuer');
  });
  it('several replicas: every proxy any of them certified, up since the latest start, unknown while one cannot be asked', () => {
    const a = control([proxy(['old', 'new'], 'old')], 500);
    const b = control([proxy(['old'], 'old')], 2500);
    const merged = mergeControlViews([a, b])!;
    assert.equal(merged.proxies.length, 2);
    assert.equal(merged.startedAt, 2500);
    const rec = { ...r, done: { add: 2000 } };
    const s1: StoreView = { bundle: ['old', 'new'], signingAnchor: 'old', issuerAnchor: 'old' };
    // Replica a alone would let step 3 run; b's proxy still lacks the new anchor.
    assert.equal(nextStep(rec, s1, a, 3000).kind, 'run');
    const w = nextStep(rec, s1, merged, 3000);
    assert.equal(w.kind === 'wait' && `${w.step} ${w.have}/${w.of}`, 'spread 1/2');
    // b restarted after the step began: even with every proxy updated, wait out a leaf lifetime.
    const bUpdated = control([proxy(['old', 'new'], 'old')], 2500);
    assert.equal(nextStep(rec, s1, mergeControlViews([a, bUpdated]), 3000).kind, 'wait');
    assert.equal(nextStep(rec, s1, mergeControlViews([a, bUpdated]), 2000 + 30_000).kind, 'run');
    assert.equal(mergeControlViews([a, undefined]), undefined);
    assert.equal(nextStep(rec, s1, mergeControlViews([a, undefined]), 99_000).kind, 'wait');
  });
});
