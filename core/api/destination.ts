/**
 * Loads core/api/destination.proto at run time with @grpc/proto-loader. Shared by the server
 * (control/destination) and the proxy's client (proxy/outbound/discovery) so both read the one contract.
 */
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { loadProto } from './grpc-load';
import { protoFile } from './proto-file';

/** Field names stay as in the .proto (snake_case) so messages read the same as the contract. */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

let cached: grpc.GrpcObject | undefined;

export function destinationProtoPath(): string {
  return protoFile('destination.proto');
}

function load(): grpc.GrpcObject {
  if (!cached) cached = loadProto(destinationProtoPath(), LOADER_OPTIONS);
  return cached;
}

/** The Destination service definition, for grpc.Server#addService. */
export function destinationServiceDefinition(): grpc.ServiceDefinition {
  return destinationClientConstructor().service;
}

/** The generated client class, for `new Client(addr, credentials, options)`. */
export function destinationClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = (load()['linnet'] as grpc.GrpcObject)['destination'] as grpc.GrpcObject;
  return pkg['Destination'] as grpc.ServiceClientConstructor;
}

// Wire shapes (as proto-loader produces and accepts them with LOADER_OPTIONS).
export interface PbTcpAddress {
  ip: string;
  port: number;
}
export interface PbWeightedAddr {
  addr: PbTcpAddress;
  weight: number;
  metric_labels: Record<string, string>;
  tls_identity?: { strategy?: 'dns_like_identity'; dns_like_identity?: { name: string } } | null;
  protocol_hint?: {
    protocol?: 'h2' | 'opaque';
    h2?: object | null;
    opaque?: object | null;
    opaque_transport?: { inbound_port: number } | null;
  } | null;
}
export interface PbUpdate {
  update?: 'add' | 'remove' | 'no_endpoints';
  add?: { addrs: PbWeightedAddr[]; metric_labels: Record<string, string>; protocol?: string } | null;
  remove?: { addrs: PbTcpAddress[] } | null;
  no_endpoints?: { exists: boolean } | null;
}
export interface PbDestinationProfile {
  fully_qualified_name: string;
  opaque_protocol: boolean;
  routes: unknown[];
  retry_budget?: unknown;
  endpoint?: PbWeightedAddr | null;
}
export interface PbGetDestination {
  scheme: string;
  path: string;
  context_token: string;
}
