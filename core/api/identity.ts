/**
 * Loads core/api/identity.proto at run time (proto-loader, no generated code). Shared by the
 * CA service and the proxy's client so both speak exactly the contract file.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadProto } from './grpc-load';
import { protoFile } from './proto-file';

/** The contract file, from the source tree (see proto-file.ts). */
export function identityProtoPath(): string {
  return protoFile('identity.proto');
}

/** Decoded messages as proto-loader gives them: bytes as Buffer, Timestamp as {seconds, nanos}. */
export interface CertifyRequestMsg {
  identity: string;
  token: Buffer;
  certificate_signing_request: Buffer;
}
export interface CertifyResponseMsg {
  leaf_certificate: Buffer;
  intermediate_certificates: Buffer[];
  valid_until: { seconds: string | number; nanos: number } | null;
  /** DER trust anchors the CA trusts now (absent from CAs before this field). */
  trust_anchors?: Buffer[];
}

export type IdentityClient = grpc.Client & {
  Certify(
    req: Partial<CertifyRequestMsg>,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: CertifyResponseMsg) => void,
  ): grpc.ClientUnaryCall;
};

let cached: grpc.ServiceClientConstructor | undefined;

/** The Identity service's client constructor; `.service` is its ServiceDefinition. */
export function identityServiceConstructor(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const pkg = loadProto(identityProtoPath(), {
    keepCase: true, // field names as in the .proto (snake_case), as Linkerd's clients see them
    longs: String,
    defaults: true,
    oneofs: true,
  }) as unknown as {
    io: { linnet: { proxy: { identity: { Identity: grpc.ServiceClientConstructor } } } };
  };
  cached = pkg.io.linnet.proxy.identity.Identity;
  return cached;
}
