/**
 * The identity CA's public surface, for `linnet control` and tests.
 */
export { createIdentityService, grpcStatusFor, type IdentityService, type IdentityServiceOptions, type IdentityLog, type ProxyRecord } from './service';
export { dirStore, type IdentityStore } from './store';
export { kubeStore, IDENTITY_OBJECTS, type KubeStore } from './kube-store';
export { kubeRest, loadKubeConfig, type KubeRest } from './kube-rest';
export { startIssuerManager, type IssuerManager } from './issuer-manager';
export { checkMaterial, CHECKS, type LoadedIssuer } from './material';
export { StaticTokenVerifier, KubernetesTokenVerifier, type TokenVerifier, type KubernetesTokenVerifierOptions } from './token-verifier';
export { identityName, parseIdentityName, identitySuffix, DEFAULT_TRUST_DOMAIN, DEFAULT_CONTROL_NAMESPACE } from './names';
export { createCa, createAnchor, createIssuer, loadIssuer, FILES as IDENTITY_FILES, ANCHOR_LIFETIME_MS, ISSUER_LIFETIME_MS } from './ca';
export { IdentityError, type IdentityErrorCode } from './errors';
export { identityProtoPath, identityServiceConstructor } from '../../core/api/identity';
export { identityServerCredentials, type IdentityServerTls } from './server-tls';
