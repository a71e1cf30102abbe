/** The proxy's discovery client: what the outbound side asks about a destination. */
export { createDiscoveryClient, DiscoveryError, type DiscoveryClient, type DiscoveryClientOptions, type EndpointSet, type ResolveTarget } from './client';
export type { DiscoveredEndpoint } from './endpoint-set';
