/**
 * Signs one leaf certificate. This is the CPU-heavy step, so service.ts runs it in a piscina
 * worker (sign-worker.ts); it is a plain function so tests can call it directly too.
 * Inputs and output are transferable plain data (DER bytes, numbers, strings).
 */
import { x509, importPkcs8, signingAlgorithm, randomSerial, type KeyKind } from './keys';
import { checkCsr } from './csr';
import { IdentityError } from './errors';

export interface IssueTask {
  identity: string;
  csrDer: Uint8Array;
  issuerCertDer: Uint8Array;
  issuerKeyPkcs8: Uint8Array;
  issuerKeyKind: KeyKind;
  notBeforeMs: number;
  notAfterMs: number;
}

/** The worker's answer: a leaf, or a typed refusal carried as plain data across the thread. */
export type IssueResult = { ok: true; leafDer: Uint8Array } | { ok: false; code: string; message: string; hint?: string };

export async function issueLeaf(task: IssueTask): Promise<IssueResult> {
  try {
    const { csr } = await checkCsr(task.csrDer, task.identity);
    const issuerCert = new x509.X509Certificate(Buffer.from(task.issuerCertDer));
    const signingKey = await importPkcs8(task.issuerKeyPkcs8, task.issuerKeyKind);
    const publicKey = await csr.publicKey.export();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      // Linkerd's leaves carry the identity as CN too; verifiers use the SAN.
      subject: `CN=${task.identity}`,
      issuer: issuerCert.subjectName, // the parsed DER name, so its encoding is kept byte for byte
      notBefore: new Date(task.notBeforeMs),
      notAfter: new Date(task.notAfterMs),
      publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithm(task.issuerKeyKind),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: task.identity }], false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await authorityKeyId(issuerCert),
      ],
    });
    return { ok: true, leafDer: new Uint8Array(leaf.rawData) };
  } catch (err) {
    if (err instanceof IdentityError) return { ok: false, code: err.code, message: err.message, hint: err.hint };
    return { ok: false, code: 'LINNET_IDENTITY_SIGN_FAILED', message: `signing failed: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * The leaf's authority key identifier must equal the issuer's subject key identifier byte for
 * byte (verifiers such as openssl match on it), so copy the issuer's when it has one.
 */
async function authorityKeyId(issuer: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId, false);
  return x509.AuthorityKeyIdentifierExtension.create(issuer, false);
}
