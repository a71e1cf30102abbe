/**
 * The outbound policy gRPC service (OutboundPolicies, the shape of linkerd2-proxy-api's) over a
 * PolicySource, on the policy port beside InboundServerPolicies. Each Watch resolves its target
 * to a Service port and compiles that Service's routes at once and on every source change,
 * sending only when the answer changed; a target that is no Service gets `found: false`.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../core/log';
import { NOT_FOUND, outboundServiceDefinition, toPbOutbound, type PbOutboundPolicy, type PbTrafficSpec } from '../../core/api/outbound';
import { compileOutbound } from './outbound';
import type { OutboundTarget, PolicySource } from './source';
import { OpenWatches } from './watch-stream';

export interface OutboundServiceOptions {
  source: PolicySource;
  clusterDomain: string;
  log?: Logger;
}

function target(spec: PbTrafficSpec): OutboundTarget | string {
  const t = spec.target ?? (spec.addr ? 'addr' : spec.authority ? 'authority' : undefined);
  const text = t === 'addr' ? spec.addr : t === 'authority' ? spec.authority : undefined;
  if (!t || !text || !/:\d{1,5}$/.test(text)) return 'target must be addr "ip:port" or authority "name:port"';
  return t === 'addr' ? { addr: text } : { authority: text };
}

/** The answer for a target now. */
export function outboundFor(source: PolicySource, clusterDomain: string, t: OutboundTarget): PbOutboundPolicy {
  const snap = source.snapshot();
  const parent = snap.service(t);
  return parent ? toPbOutbound(compileOutbound(snap.index, parent, clusterDomain)) : NOT_FOUND;
}

export function createOutboundService(opts: OutboundServiceOptions): { service: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation; drain(): void } {
  const { source, clusterDomain, log } = opts;
  const watches = new OpenWatches();
  const implementation: grpc.UntypedServiceImplementation = {
    Get(call: grpc.ServerUnaryCall<PbTrafficSpec, PbOutboundPolicy>, cb: grpc.sendUnaryData<PbOutboundPolicy>) {
      const t = target(call.request);
      if (typeof t === 'string') return cb({ code: grpc.status.INVALID_ARGUMENT, details: t });
      cb(null, outboundFor(source, clusterDomain, t));
    },
    Watch(call: grpc.ServerWritableStream<PbTrafficSpec, PbOutboundPolicy>) {
      const t = target(call.request);
      if (typeof t === 'string') return void call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: t });
      log?.debug('outbound policy watch', { target: 'addr' in t ? t.addr : t.authority });
      watches.watch(call, source, () => outboundFor(source, clusterDomain, t));
    },
  };
  return {
    service: outboundServiceDefinition(),
    implementation,
    drain() {
      watches.drain();
    },
  };
}
