/**
 * What the policy service reads: the resources and the pods they apply to, from one source (a
 * policy directory beside the mesh file in the embedded mode, or Kubernetes), with change
 * notifications. The service recompiles each open watch on every change and sends only real
 * changes.
 */
import { SnapshotHolder } from '../snapshot-holder';
import { PolicyIndex, type PodInfo } from './compile';
import type { ServiceParent } from './outbound';

/** What a proxy names as an outbound target: a Service's cluster IP and port, or its authority. */
export type OutboundTarget = { addr: string } | { authority: string };

export interface PolicySnapshot {
  readonly index: PolicyIndex;
  /** The pod a proxy names as its workload; undefined: not known (the install default applies). */
  pod(workload: string): PodInfo | undefined;
  /** The Service port a target is; undefined: not a Service (the proxy sends as without routes). */
  service(target: OutboundTarget): ServiceParent | undefined;
}

export interface PolicySource {
  readonly kind: string;
  snapshot(): PolicySnapshot;
  subscribe(fn: () => void): () => void;
  close(): Promise<void>;
}

export const EMPTY_POLICY: PolicySnapshot = { index: new PolicyIndex([]), pod: () => undefined, service: () => undefined };

/** The policy sources' snapshot holder (empty until the first snapshot). */
export class PolicyHolder extends SnapshotHolder<PolicySnapshot> {
  constructor(initial: PolicySnapshot = EMPTY_POLICY) {
    super(initial);
  }
}
