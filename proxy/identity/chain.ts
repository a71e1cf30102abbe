/**
 * Checks what the identity service returned before the proxy uses it: the leaf names our
 * identity, carries our public key, is in its validity window, and chains through the
 * intermediates to one of our trust anchors. The proxy trusts only the anchors, never the
 * control plane's word.
 */
import { X509Certificate } from 'node:crypto';
import { LinnetError } from '../../core/errors';

export class IdentityChainError extends LinnetError {
  constructor(message: string) {
    super('LINNET_IDENTITY_CHAIN_INVALID', message, { hint: 'check that the identity issuer is signed by the trust anchors this proxy was given' });
    this.name = 'IdentityChainError';
  }
}

export interface VerifiedChain {
  leaf: X509Certificate;
  intermediates: X509Certificate[];
  notBefore: Date;
  notAfter: Date;
}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch {
    throw new IdentityChainError(`${what} is not a DER certificate`);
  }
}

function dnsSans(cert: X509Certificate): string[] {
  // Node renders SANs as "DNS:a, DNS:b"; our names never contain ", ".
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

function within(cert: X509Certificate, now: number): boolean {
  return new Date(cert.validFrom).getTime() <= now && now < new Date(cert.validTo).getTime();
}

export function verifyChain(opts: {
  leafDer: Uint8Array;
  intermediatesDer: readonly Uint8Array[];
  anchors: readonly X509Certificate[];
  localName: string;
  /** SPKI DER of our own public key. */
  publicKeySpki: Buffer;
  now: number;
}): VerifiedChain {
  const leaf = parse(opts.leafDer, 'the leaf certificate');
  const intermediates = opts.intermediatesDer.map((d, i) => parse(d, `intermediate certificate #${i + 1}`));
  const sans = dnsSans(leaf);
  if (sans.length !== 1 || sans[0] !== opts.localName) {
    throw new IdentityChainError(`the leaf names ${sans.join(', ') || 'no DNS name'}, not ${opts.localName}`);
  }
  if (!(leaf.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).equals(opts.publicKeySpki)) {
    throw new IdentityChainError('the leaf does not carry this proxy\'s public key');
  }
  if (!within(leaf, opts.now)) throw new IdentityChainError(`the leaf is valid ${leaf.validFrom} – ${leaf.validTo}, not now`);
  // Walk up: each certificate must be issued and signed by the next, ending at an anchor.
  let child = leaf;
  const pool = [...intermediates];
  for (let depth = 0; depth <= pool.length; depth++) {
    const anchor = opts.anchors.find((a) => child.checkIssued(a) && child.verify(a.publicKey));
    if (anchor) {
      if (!within(anchor, opts.now)) throw new IdentityChainError(`trust anchor ${anchor.subject} is not valid now`);
      return { leaf, intermediates, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
    }
    const parent = pool.find((p) => p.ca && child.checkIssued(p) && child.verify(p.publicKey));
    if (!parent) break;
    if (!within(parent, opts.now)) throw new IdentityChainError(`intermediate ${parent.subject} is not valid now`);
    child = parent;
  }
  throw new IdentityChainError('the returned chain does not lead to any trust anchor');
}
