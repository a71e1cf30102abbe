/**
 * The inbound policy gRPC service (InboundServerPolicies, the shape of linkerd2-proxy-api's)
 * over a PolicySource. Each WatchPort stream compiles its workload's port at once and again on
 * every source change, and sends only when the policy actually changed, so proxies rebuild
 * nothing on unrelated edits.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../core/log';
import { inboundServiceDefinition, toPbServer, type PbPortSpec, type PbServer } from '../../core/api/inbound';
import { defaultPolicy, type InboundPolicy } from '../../core/policy/model';
import { compilePort, type CompileSettings } from './compile';
import type { PolicySource } from './source';
import { OpenWatches } from './watch-stream';

export interface PolicyServiceOptions {
  source: PolicySource;
  settings: CompileSettings;
  log?: Logger;
}

/** The policy of a workload's port now: compiled, or the install default for a workload nobody knows. */
export function policyFor(source: PolicySource, settings: CompileSettings, spec: PbPortSpec): InboundPolicy {
  const snap = source.snapshot();
  const pod = snap.pod(spec.workload);
  return pod ? compilePort(snap.index, pod, spec.port, settings) : defaultPolicy(settings.defaultPolicy, settings.clusterNetworks);
}

export function createPolicyService(opts: PolicyServiceOptions): { service: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation; drain(): void } {
  const { source, settings, log } = opts;
  const watches = new OpenWatches();
  const valid = (spec: PbPortSpec) => Number.isInteger(spec.port) && spec.port >= 1 && spec.port <= 65535;
  const implementation: grpc.UntypedServiceImplementation = {
    GetPort(call: grpc.ServerUnaryCall<PbPortSpec, PbServer>, cb: grpc.sendUnaryData<PbServer>) {
      if (!valid(call.request)) return cb({ code: grpc.status.INVALID_ARGUMENT, details: `port ${call.request.port} is not 1-65535` });
      cb(null, toPbServer(policyFor(source, settings, call.request)));
    },
    WatchPort(call: grpc.ServerWritableStream<PbPortSpec, PbServer>) {
      const spec = call.request;
      if (!valid(spec)) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `port ${spec.port} is not 1-65535` });
        return;
      }
      log?.debug('policy watch', { workload: spec.workload, port: spec.port });
      watches.watch(call, source, () => toPbServer(policyFor(source, settings, spec)));
    },
  };
  return {
    service: inboundServiceDefinition(),
    implementation,
    drain() {
      watches.drain();
    },
  };
}
