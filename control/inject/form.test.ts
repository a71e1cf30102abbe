/** The sidecar-form decision and the /version parser: every branch, including the 1.28 cases. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideForm, parseKubeVersion } from './form';

const v = (minor: number) => ({ major: 1, minor });

test('auto: native from 1.29, classic on 1.28 and older, classic when the version is unknown', () => {
  assert.equal(decideForm({ installDefault: 'auto', serverVersion: v(29) }).form, 'native');
  assert.equal(decideForm({ installDefault: 'auto', serverVersion: v(31) }).form, 'native');
  assert.equal(decideForm({ installDefault: 'auto', serverVersion: { major: 2, minor: 0 } }).form, 'native');
  const old = decideForm({ installDefault: 'auto', serverVersion: v(28) });
  assert.deepEqual([old.form, old.reason, old.warning], ['classic', 'Kubernetes 1.28 is older than 1.29', undefined]);
  assert.equal(decideForm({ installDefault: 'auto' }).form, 'classic');
});

test('the annotation wins over the install default and the version', () => {
  const off = decideForm({ annotation: { enabled: false, key: 'config.linkerd.io/proxy-enable-native-sidecar' }, installDefault: 'enabled', serverVersion: v(30) });
  assert.equal(off.form, 'classic');
  assert.match(off.reason, /annotation config\.linkerd\.io/);
  assert.equal(decideForm({ annotation: { enabled: true, key: 'k' }, installDefault: 'disabled' }).form, 'native');
});

test('the install default wins over the version', () => {
  assert.equal(decideForm({ installDefault: 'disabled', serverVersion: v(30) }).form, 'classic');
  assert.equal(decideForm({ installDefault: 'enabled' }).form, 'native');
});

test('asked for native on 1.28: native with a feature-gate warning; on 1.27: classic with a warning', () => {
  const gate = decideForm({ annotation: { enabled: true, key: 'k' }, installDefault: 'auto', serverVersion: v(28) });
  assert.equal(gate.form, 'native');
  assert.match(gate.warning!, /SidecarContainers feature gate/);
  const old = decideForm({ installDefault: 'enabled', serverVersion: v(27) });
  assert.equal(old.form, 'classic');
  assert.match(old.warning!, /API server is 1\.27.*classic/);
});

test('/version answers: plain, managed-cluster "29+", gitVersion only, garbage', () => {
  assert.deepEqual(parseKubeVersion({ major: '1', minor: '29', gitVersion: 'v1.29.2' }), v(29));
  assert.deepEqual(parseKubeVersion({ major: '1', minor: '28+', gitVersion: 'v1.28.9-eks-036c24b' }), v(28));
  assert.deepEqual(parseKubeVersion({ gitVersion: 'v1.30.1-gke.1' }), v(30));
  assert.equal(parseKubeVersion({ major: '', minor: '' }), undefined);
  assert.equal(parseKubeVersion('1.29'), undefined);
  assert.equal(parseKubeVersion(null), undefined);
});
