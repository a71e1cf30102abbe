/**
 * The fuzz targets by name. Loaded lazily so `linnet fuzz --target detect` does not load the
 * injector or the CA.
 */
import type { FuzzTarget } from '../target';

export const TARGETS: Readonly<Record<string, () => FuzzTarget>> = {
  detect: () => require('./detect').default,
  'client-hello': () => require('./client-hello').default,
  'init-options': () => require('./init-options').default,
  annotations: () => require('./annotations').default,
  'inject-transform': () => require('./inject-transform').default,
  'admission-review': () => require('./admission-review').default,
  'certify-csr': () => require('./certify-csr').default,
  'identity-name': () => require('./identity-name').default,
  'http1-request': () => require('./http1-request').default,
  'http1-response': () => require('./http1-response').default,
  'transport-header': () => require('./transport-header').default,
  'hpack-decode': () => require('./hpack-decode').default,
  'h2-frames': () => require('./h2-frames').default,
  'h2-connection': () => require('./h2-connection').default,
  'policy-decision': () => require('./policy-decision').default,
};

export function targetNames(): string[] {
  return Object.keys(TARGETS);
}

export function loadTarget(name: string): FuzzTarget | undefined {
  const load = TARGETS[name];
  return load ? load() : undefined;
}
