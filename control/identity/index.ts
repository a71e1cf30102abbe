/**
 * The identity CA's public surface, for `linnet control` and tests.
 */
export { createIdentityService, grpcStatusFor, type IdentityService, type IdentityServiceOptions, type IdentityLog } from './service';
export { StaticTokenVerifier, KubernetesTokenVerifier, type TokenVerifier, type KubernetesTokenVerifierOptions } from './token-verifier';
export { identityName, parseIdentityName, identitySuffix, DEFAULT_TRUST_DOMAIN, DEFAULT_CONTROL_NAMESPACE } from './names';
export { createCa, loadIssuer, FILES as IDENTITY_FILES, ANCHOR_LIFETIME_MS, ISSUER_LIFETIME_MS } from './ca';
export { IdentityError, type IdentityErrorCode } from './errors';
export { identityProtoPath, identityServiceConstructor } from '../../core/api/identity';
export { identityServerCredentials, type IdentityServerTls } from './server-tls';
