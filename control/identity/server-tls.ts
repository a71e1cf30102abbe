/**
 * TLS for the identity listener, as Linkerd does: the identity service presents a certificate
 * for its own mesh identity (`linnet-identity.<control-ns>.serviceaccount.identity.<control-ns>.
 * <trust-domain>`) signed by the issuer, so proxies check it against the trust anchors they
 * already hold and never send their token to an impostor or in clear text.
 * The certificate lives as long as the issuer does (the listener is restarted when the issuer
 * rotates, since the issuer is loaded once at start too).
 */
import * as grpc from '@grpc/grpc-js';
import { webcrypto } from 'node:crypto';
import { loadIssuer } from './ca';
import { IdentityError } from './errors';
import { issueLeaf } from './issue';
import { derToPem, x509 } from './keys';
import { identityName } from './names';
import { DEFAULT_CLOCK_SKEW_MS, leafValidity } from './validity';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IdentityServerTls {
  credentials: grpc.ServerCredentials;
  /** The name proxies must expect (LINNET_PROXY_IDENTITY_SVC_NAME). */
  identity: string;
  notAfter: Date;
  keyPem: string;
  certChainPem: string;
}

export async function identityServerCredentials(opts: {
  identityDir: string;
  controlNamespace: string;
  trustDomain: string;
  /** The identity controller's service account; default `linnet-identity`. */
  serviceAccount?: string;
}): Promise<IdentityServerTls> {
  const issuer = await loadIssuer(opts.identityDir);
  const identity = identityName({ serviceAccount: opts.serviceAccount ?? 'linnet-identity', namespace: opts.controlNamespace }, opts.controlNamespace, opts.trustDomain);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${identity}`,
    keys: keys as never,
    signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: identity }])],
  });
  const issuerEnd = new Date(issuer.issuer.validTo);
  const window = leafValidity(Date.now(), issuerEnd.getTime() - Date.now(), DEFAULT_CLOCK_SKEW_MS, {
    notBefore: new Date(issuer.issuer.validFrom),
    notAfter: issuerEnd,
  });
  const r = await issueLeaf({
    identity,
    csrDer: new Uint8Array(csr.rawData),
    issuerCertDer: issuer.issuerDer,
    issuerKeyPkcs8: issuer.issuerKeyPkcs8,
    issuerKeyKind: issuer.issuerKeyKind,
    notBeforeMs: window.notBefore.getTime(),
    notAfterMs: window.notAfter.getTime(),
  });
  if (!r.ok) throw new IdentityError('LINNET_IDENTITY_SIGN_FAILED', `cannot issue the identity service's own certificate: ${r.message}`);
  const keyPem = derToPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
  const certChainPem = derToPem(r.leafDer) + derToPem(issuer.issuerDer);
  return {
    credentials: grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certChainPem) }], false),
    identity,
    notAfter: window.notAfter,
    keyPem,
    certChainPem,
  };
}
