/** The bench's gRPC service, defined on raw bytes so neither side needs a .proto file. */
import type { ServiceDefinition } from '@grpc/grpc-js';

const raw = (b: Buffer) => b;

export const GRPC_SERVICE: ServiceDefinition = {
  unary: {
    path: '/linnet.bench.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  stream: {
    path: '/linnet.bench.Echo/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};
