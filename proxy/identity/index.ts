/** The proxy's identity: the certifying client and chain verification. */
export { createIdentityClient, IdentityClientError, type IdentityClient, type IdentityClientOptions, type IdentityMaterial } from './client';
export { verifyChain, IdentityChainError, type VerifiedChain } from './chain';
export { refreshIn, backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './schedule';
