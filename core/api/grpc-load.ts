/**
 * A contract file through grpc-js and proto-loader, loaded on first use: the control plane's
 * services and the tools' clients build from it, while the proxy, which reads the conversions
 * beside these loaders but speaks gRPC itself, never loads either library (some 10 MB).
 */
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';

export function loadProto(path: string, options: protoLoader.Options): grpc.GrpcObject {
  const grpcJs = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  return grpcJs.loadPackageDefinition(loader.loadSync(path, options));
}
