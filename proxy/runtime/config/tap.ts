/**
 * Tap settings: where the tap server listens (LINNET_PROXY_TAP_LISTEN_ADDR), the one identity
 * allowed to tap (LINNET_PROXY_TAP_SVC_NAME; unset: no tap server at all), the rate cap per tap
 * (LINNET_PROXY_TAP_MAX_RPS) and each tap's buffer of events a slow reader has not taken yet
 * (LINNET_PROXY_TAP_BUFFER). Tap is served over mTLS with the proxy's own certificate, so it needs
 * identity: a tap name without LINNET_PROXY_IDENTITY_SVC_ADDR is refused at start.
 */
import { ConfigError } from '../../../core/errors';
import { parsePositiveInt, parseSocketAddr, type SocketAddr } from '../../../core/parse';

export interface TapConfig {
  readonly addr: SocketAddr;
  /** The client identity allowed to tap (its certificate's DNS name). */
  readonly svcName: string;
  readonly maxRps: number;
  readonly buffer: number;
}

export const TAP_ENV = {
  LINNET_PROXY_TAP_LISTEN_ADDR: { default: '0.0.0.0:4190', meaning: 'where the tap server (io.linkerd.proxy.tap.Tap/Observe, mTLS) listens' },
  LINNET_PROXY_TAP_SVC_NAME: {
    default: '',
    meaning: 'the identity allowed to tap this proxy (its client certificate must name it; anyone else is refused); unset: tap is off',
  },
  LINNET_PROXY_TAP_MAX_RPS: { default: '100', meaning: 'requests a second one tap may report at most (a tap asking for more gets this), 1-100000' },
  LINNET_PROXY_TAP_BUFFER: {
    default: '1000',
    meaning: "events a tap's slow reader may fall behind by; past that, events are dropped and counted (tap_events_dropped_total), never slowing traffic",
  },
} as const;

const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export function parseTapEnv(env: NodeJS.ProcessEnv, identityConfigured: boolean): TapConfig | undefined {
  const get = (k: keyof typeof TAP_ENV) => {
    const v = env[k];
    return v === undefined || v.trim() === '' ? TAP_ENV[k].default : v.trim();
  };
  const svcName = get('LINNET_PROXY_TAP_SVC_NAME');
  const addr = parseSocketAddr('LINNET_PROXY_TAP_LISTEN_ADDR', get('LINNET_PROXY_TAP_LISTEN_ADDR'));
  const maxRps = parsePositiveInt('LINNET_PROXY_TAP_MAX_RPS', get('LINNET_PROXY_TAP_MAX_RPS'), 100_000);
  const buffer = parsePositiveInt('LINNET_PROXY_TAP_BUFFER', get('LINNET_PROXY_TAP_BUFFER'), 1_000_000);
  if (svcName === '') return undefined;
  if (!NAME_RE.test(svcName)) throw new ConfigError('LINNET_PROXY_TAP_SVC_NAME', svcName, 'an identity name, e.g. tap.linnet-viz.serviceaccount.identity.linnet.cluster.local');
  if (!identityConfigured) {
    throw new ConfigError('LINNET_PROXY_TAP_SVC_NAME', svcName, 'unset, unless LINNET_PROXY_IDENTITY_SVC_ADDR is set too (tap is served over mTLS with the proxy\'s certificate)');
  }
  return Object.freeze({ addr, svcName, maxRps, buffer });
}
