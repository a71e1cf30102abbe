/**
 * tap.proto through grpc-js and proto-loader, for tap's clients (the viz service, tests). The
 * proxy's own tap server speaks gRPC over the proxy's HTTP/2 engine and does not load this.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from './proto-file';

/**
 * As LOADER_OPTIONS elsewhere, but 64-bit fields as decimal strings: an IPv6 address travels as two
 * fixed64 halves, which a JavaScript number would round.
 */
const TAP_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

let cached: grpc.GrpcObject | undefined;

function load(): grpc.GrpcObject {
  cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(protoFile('tap.proto'), TAP_LOADER_OPTIONS));
  return cached;
}

/** The generated client class of `io.linkerd.proxy.tap.Tap`. */
export function tapClientConstructor(): grpc.ServiceClientConstructor {
  const io = load()['io'] as grpc.GrpcObject;
  const pkg = ((io['linkerd'] as grpc.GrpcObject)['proxy'] as grpc.GrpcObject)['tap'] as grpc.GrpcObject;
  return pkg['Tap'] as grpc.ServiceClientConstructor;
}

/** The service definition (tests serve it with grpc-js to check the hand-written encoder against protobufjs). */
export function tapServiceDefinition(): grpc.ServiceDefinition {
  return tapClientConstructor().service;
}
