/**
 * The viz service's own identity for tapping proxies (`tap.linnet-viz.serviceaccount.identity.
 * <control-ns>.<trust-domain>`, as Linkerd's tap identity): a key made here and a leaf signed in
 * process by the control plane's current issuer, renewed when a third of its life is left or the
 * issuer changes. Proxies admit only this name to their tap server (LINNET_PROXY_TAP_SVC_NAME).
 */
import { webcrypto } from 'node:crypto';
import type { LoadedIssuer } from '../identity/material';
import { issueLeaf } from '../identity/issue';
import { derToPem, x509 } from '../identity/keys';
import { identityName } from '../identity/names';
import { LinnetError } from '../../core/errors';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const LIFETIME_MS = 24 * 3600_000;

export interface TapCredentials {
  identity: string;
  certPem: string;
  keyPem: string;
  trustAnchorsPem: string;
}

export const tapIdentityName = (controlNamespace: string, trustDomain: string) => identityName({ serviceAccount: 'tap', namespace: 'linnet-viz' }, controlNamespace, trustDomain);

export function tapIdentity(opts: { issuer: () => LoadedIssuer; controlNamespace: string; trustDomain: string }): () => Promise<TapCredentials> {
  const identity = tapIdentityName(opts.controlNamespace, opts.trustDomain);
  let held: { creds: TapCredentials; renewAt: number; issuer: Buffer } | undefined;
  return async () => {
    const issuer = opts.issuer();
    if (held && Date.now() < held.renewAt && held.issuer.equals(issuer.issuerDer)) return held.creds;
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${identity}`,
      keys: keys as never,
      signingAlgorithm: ALG,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: identity }])],
    });
    const now = Date.now();
    const notAfter = Math.min(now + LIFETIME_MS, new Date(issuer.issuer.validTo).getTime());
    const r = await issueLeaf({
      identity,
      csrDer: new Uint8Array(csr.rawData),
      issuerCertDer: issuer.issuerDer,
      issuerKeyPkcs8: issuer.issuerKeyPkcs8,
      issuerKeyKind: issuer.issuerKeyKind,
      notBeforeMs: now - 20_000,
      notAfterMs: notAfter,
    });
    if (!r.ok) throw new LinnetError('LINNET_VIZ_TAP_IDENTITY', `cannot issue the viz service's tap certificate: ${r.message}`);
    const creds: TapCredentials = {
      identity,
      keyPem: derToPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY'),
      certPem: derToPem(r.leafDer) + derToPem(issuer.issuerDer),
      trustAnchorsPem: issuer.anchors.map((a) => a.toString()).join('\n'),
    };
    held = { creds, renewAt: now + (notAfter - now) * (2 / 3), issuer: issuer.issuerDer };
    return creds;
  };
}
