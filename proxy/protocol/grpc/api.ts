/**
 * A contract file (core/api/*.proto) as the proxy's gRPC calls need it: its schema and codec,
 * read once per process, and its methods by service and name; and the HTTP/2 settings of the
 * proxy's connections to its control plane.
 */
import { readFileSync } from 'node:fs';
import { ProtoCodec, type CodecOptions } from '../../../core/api/proto/codec';
import { parseProto, type MethodDef } from '../../../core/api/proto/schema';
import { protoFile } from '../../../core/api/proto-file';
import type { H2Settings } from '../h2/settings';

export interface GrpcApi {
  readonly codec: ProtoCodec;
  /** A method by its service's full name and its own; throws if the contract has no such method. */
  method(service: string, name: string): MethodDef;
}

const cache = new Map<string, GrpcApi>();

export function grpcApi(protoName: string, opts: CodecOptions = {}): GrpcApi {
  const key = `${protoName} ${opts.longs ?? 'number'}`;
  let api = cache.get(key);
  if (!api) {
    const schema = parseProto(readFileSync(protoFile(protoName), 'utf8'));
    const codec = new ProtoCodec(schema, opts);
    api = {
      codec,
      method(service, name) {
        const m = schema.services.get(service)?.methods.get(name);
        if (!m) throw new Error(`${protoName} has no ${service}/${name}`);
        return m;
      },
    };
    cache.set(key, api);
  }
  return api;
}

/** Control-plane streams carry small messages: modest windows, few streams. */
export const CONTROL_PLANE_H2: H2Settings = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_535,
  initialConnectionWindowSize: 1 << 20,
  maxSessionMemoryMb: 10,
  maxHeaderListSize: 65_535,
  keepAliveTimeoutMs: 0,
};
