/**
 * Mesh identity names, as Linkerd's:
 * `<serviceaccount>.<namespace>.serviceaccount.identity.<control-ns>.<trust-domain>`.
 * Pure functions; the CA and the Kubernetes token verifier both use them.
 */
import { IdentityError } from './errors';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_CONTROL_NAMESPACE = 'linnet';

// A DNS label as Kubernetes names are (RFC 1123): lower-case alphanumerics and '-', 1-63 chars.
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface IdentityParts {
  serviceAccount: string;
  namespace: string;
}

function checkLabel(what: string, value: string): void {
  if (!LABEL.test(value)) {
    throw new IdentityError('LINNET_IDENTITY_NAME_INVALID', `${what} ${JSON.stringify(value)} is not a DNS label`, {
      hint: 'use lower-case letters, digits and "-", at most 63 characters',
    });
  }
}

/** The DNS suffix every identity of this control plane ends with (without the leading dot). */
export function identitySuffix(controlNamespace: string, trustDomain: string): string {
  return `serviceaccount.identity.${controlNamespace}.${trustDomain}`;
}

/** Builds the identity name of a service account. */
export function identityName(parts: IdentityParts, controlNamespace: string, trustDomain: string): string {
  checkLabel('service account', parts.serviceAccount);
  checkLabel('namespace', parts.namespace);
  return `${parts.serviceAccount}.${parts.namespace}.${identitySuffix(controlNamespace, trustDomain)}`;
}

/**
 * Splits an identity name into service account and namespace, checking it belongs to this
 * control plane (control namespace and trust domain). Throws LINNET_IDENTITY_NAME_INVALID.
 */
export function parseIdentityName(name: string, controlNamespace: string, trustDomain: string): IdentityParts {
  const suffix = '.' + identitySuffix(controlNamespace, trustDomain);
  if (!name.endsWith(suffix)) {
    throw new IdentityError(
      'LINNET_IDENTITY_NAME_INVALID',
      `identity ${JSON.stringify(name)} does not end with "${suffix}"`,
      { hint: `ask for <serviceaccount>.<namespace>${suffix}` },
    );
  }
  const head = name.slice(0, -suffix.length).split('.');
  if (head.length !== 2) {
    throw new IdentityError(
      'LINNET_IDENTITY_NAME_INVALID',
      `identity ${JSON.stringify(name)} must have exactly <serviceaccount>.<namespace> before "${suffix}"`,
    );
  }
  const [serviceAccount, namespace] = head as [string, string];
  checkLabel('service account', serviceAccount);
  checkLabel('namespace', namespace);
  return { serviceAccount, namespace };
}
