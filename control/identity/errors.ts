/**
 * Typed errors of the identity CA. Each code maps to one gRPC status (see `grpcStatusFor` in
 * service.ts), so a refusal reaches the proxy with a status a program can match and a message a
 * person can act on.
 */
import { LinnetError } from '../../core/errors';

export type IdentityErrorCode =
  /** No token in the request. → UNAUTHENTICATED */
  | 'LINNET_IDENTITY_TOKEN_MISSING'
  /** The token is unknown, rejected, or proves another identity. → UNAUTHENTICATED */
  | 'LINNET_IDENTITY_TOKEN_INVALID'
  /** The token could not be checked (the API server is down, ...). → UNAVAILABLE */
  | 'LINNET_IDENTITY_TOKEN_UNVERIFIABLE'
  /** The requested identity is not a mesh identity name of this control plane. → INVALID_ARGUMENT */
  | 'LINNET_IDENTITY_NAME_INVALID'
  /** The CSR cannot be parsed, is badly signed, or has a key of the wrong kind. → INVALID_ARGUMENT */
  | 'LINNET_IDENTITY_CSR_INVALID'
  /** The CSR's subject alternative names are not exactly one DNS name equal to the identity. → INVALID_ARGUMENT */
  | 'LINNET_IDENTITY_CSR_SAN_MISMATCH'
  /** The issuer has expired or is not yet valid: nothing can be issued. → FAILED_PRECONDITION */
  | 'LINNET_IDENTITY_ISSUER_EXPIRED'
  /** The identity directory's files are missing, unreadable, or do not chain. (start-up) */
  | 'LINNET_IDENTITY_ISSUER_INVALID'
  /** An issuer key that does not belong to its certificate. (start-up, reload) */
  | 'LINNET_IDENTITY_KEY_MISMATCH'
  /** A new bundle that leaves out the anchor of the issuer in use. (reload) */
  | 'LINNET_IDENTITY_BUNDLE_INCOMPLETE'
  /** An issuer signed by none of the anchors in the bundle. (start-up, reload) */
  | 'LINNET_IDENTITY_ISSUER_UNTRUSTED'
  /** The Secrets or ConfigMap of the identity could not be read or written. */
  | 'LINNET_IDENTITY_STORE_FAILED'
  /** An anchor rotation step that cannot run now (the message says why). */
  | 'LINNET_IDENTITY_ROTATION_BLOCKED'
  /** `linnet identity create` would overwrite existing files. */
  | 'LINNET_IDENTITY_OUTPUT_EXISTS'
  /** Signing failed for an unexpected reason. → INTERNAL */
  | 'LINNET_IDENTITY_SIGN_FAILED';

export class IdentityError extends LinnetError {
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'IdentityError';
  }
}
