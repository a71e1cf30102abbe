/**
 * The proxy's identity settings from LINNET_PROXY_IDENTITY_* (listed in PROXY_ENV through
 * IDENTITY_ENV). Without LINNET_PROXY_IDENTITY_SVC_ADDR the proxy runs without identity
 * (no mTLS) and this returns undefined; with it, every other identity variable is required.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../core/errors';
import { parseDuration, parseHostPort } from '../../../core/parse';

export const IDENTITY_ENV = {
  LINNET_PROXY_IDENTITY_SVC_ADDR: { default: '', meaning: 'the identity service, HOST:PORT (unset: no identity, no mTLS)' },
  LINNET_PROXY_IDENTITY_SVC_NAME: {
    default: '',
    meaning: "the identity service's own identity; set: talk TLS to it and check its certificate against the anchors (unset: plaintext)",
  },
  LINNET_PROXY_IDENTITY_LOCAL_NAME: { default: '', meaning: "this proxy's identity, <sa>.<ns>.serviceaccount.identity.<control-ns>.<trust-domain>" },
  LINNET_PROXY_IDENTITY_TOKEN_FILE: { default: '', meaning: 'file holding the token that proves the identity (re-read at every renewal)' },
  LINNET_PROXY_IDENTITY_TRUST_ANCHORS: { default: '', meaning: 'PEM trust anchor certificate(s)' },
  LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE: { default: '', meaning: 'file holding the PEM trust anchor(s), instead of the inline variable' },
  LINNET_PROXY_IDENTITY_MIN_REFRESH: { default: '10s', meaning: 'shortest wait before renewing the certificate' },
  LINNET_PROXY_IDENTITY_MAX_REFRESH: { default: '24h', meaning: 'longest wait before renewing the certificate' },
} as const;

export interface IdentityConfig {
  /** `host:port` as given, for the gRPC channel target. */
  svcAddr: string;
  /** Expected identity of the identity service; undefined → plaintext channel. */
  svcName: string | undefined;
  localName: string;
  tokenFile: string;
  /** PEM text of the anchors (checked: at least one certificate, all parse). */
  trustAnchorsPem: string;
  minRefreshMs: number;
  maxRefreshMs: number;
}

// A DNS name: dot-separated RFC 1123 labels, lower case, at most 253 characters.
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

function anchorsFrom(variable: string, pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const form = 'one or more PEM certificates (-----BEGIN CERTIFICATE-----)';
  if (blocks.length === 0) throw new ConfigError(variable, pem.slice(0, 40), form);
  for (const b of blocks) {
    try {
      if (!new X509Certificate(b).ca) throw new Error('not a CA');
    } catch {
      throw new ConfigError(variable, b.slice(0, 60) + '…', `${form}, each a parseable CA certificate`);
    }
  }
  return blocks.join('\n') + '\n';
}

export function parseIdentityEnv(
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): IdentityConfig | undefined {
  const get = (name: keyof typeof IDENTITY_ENV): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? IDENTITY_ENV[name].default : v.trim();
  };
  const addr = get('LINNET_PROXY_IDENTITY_SVC_ADDR');
  if (addr === '') return undefined;
  parseHostPort('LINNET_PROXY_IDENTITY_SVC_ADDR', addr);

  const localName = get('LINNET_PROXY_IDENTITY_LOCAL_NAME');
  if (!DNS_NAME.test(localName)) {
    throw new ConfigError('LINNET_PROXY_IDENTITY_LOCAL_NAME', localName, 'a lower-case DNS name such as web.demo.serviceaccount.identity.linnet.cluster.local');
  }
  const svcName = get('LINNET_PROXY_IDENTITY_SVC_NAME');
  if (svcName !== '' && !DNS_NAME.test(svcName)) {
    throw new ConfigError('LINNET_PROXY_IDENTITY_SVC_NAME', svcName, 'a lower-case DNS name such as linnet-identity.linnet.serviceaccount.identity.linnet.cluster.local');
  }
  const tokenFile = get('LINNET_PROXY_IDENTITY_TOKEN_FILE');
  if (tokenFile === '') throw new ConfigError('LINNET_PROXY_IDENTITY_TOKEN_FILE', '', 'the path of a file holding the workload token');

  const inline = get('LINNET_PROXY_IDENTITY_TRUST_ANCHORS');
  const file = get('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE');
  let trustAnchorsPem: string;
  if (inline !== '' && file !== '') {
    throw new ConfigError('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE', file, 'unset when LINNET_PROXY_IDENTITY_TRUST_ANCHORS is set (give one, not both)');
  } else if (inline !== '') {
    trustAnchorsPem = anchorsFrom('LINNET_PROXY_IDENTITY_TRUST_ANCHORS', inline);
  } else if (file !== '') {
    let text: string;
    try {
      text = readFile(file);
    } catch {
      throw new ConfigError('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE', file, 'the path of a readable PEM file');
    }
    trustAnchorsPem = anchorsFrom('LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE', text);
  } else {
    throw new ConfigError('LINNET_PROXY_IDENTITY_TRUST_ANCHORS', '', 'PEM trust anchors, here or in LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE');
  }
  const minRefreshMs = parseDuration('LINNET_PROXY_IDENTITY_MIN_REFRESH', get('LINNET_PROXY_IDENTITY_MIN_REFRESH'));
  const maxRefreshMs = parseDuration('LINNET_PROXY_IDENTITY_MAX_REFRESH', get('LINNET_PROXY_IDENTITY_MAX_REFRESH'));
  if (maxRefreshMs < minRefreshMs) {
    throw new ConfigError('LINNET_PROXY_IDENTITY_MAX_REFRESH', get('LINNET_PROXY_IDENTITY_MAX_REFRESH'), 'a duration not below LINNET_PROXY_IDENTITY_MIN_REFRESH');
  }
  return Object.freeze({ svcAddr: addr, svcName: svcName === '' ? undefined : svcName, localName, tokenFile, trustAnchorsPem, minRefreshMs, maxRefreshMs });
}
