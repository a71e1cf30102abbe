import { LabelSetBudget, type OverflowCounter } from './label-budget';
import type { Registry } from './registry';

/**
 * The TLS labels of one side of a connection or request, as linkerd2-proxy writes them: `tls` is
 * `true` with the peer's identity (`client_id` for the accepted side, `server_id` for the dialled
 * one), or `no_identity` with the reason there is none.
 */
export type TlsLabels = { tls: 'true'; client_id?: string; server_id?: string } | { tls: 'no_identity'; no_tls_reason: string };

export function noTls(reason: string): TlsLabels {
  return { tls: 'no_identity', no_tls_reason: reason };
}

/**
 * The Server an inbound connection's port falls under, as linkerd2-proxy labels it: `srv_kind`
 * (`server`, or `default` when no Server selects the port) and `srv_name` (the Server's name, or
 * the default policy's). Built once per port policy, not per connection.
 */
export interface SrvLabels {
  readonly srv_kind: string;
  readonly srv_name: string;
  /** Names the set (for the budget). */
  readonly key: string;
}

/** Kubernetes names are at most 253 characters; a label value is cut as dst_* values are. */
export const MAX_SRV_VALUE_LENGTH = 128;
/** Distinct Servers a metric family records in one worker before it records without srv_*. */
export const MAX_SRV_SETS = 1000;

export function srvLabelsOf(kind: string, name: string): SrvLabels {
  const k = kind.slice(0, MAX_SRV_VALUE_LENGTH);
  const n = name.slice(0, MAX_SRV_VALUE_LENGTH);
  return Object.freeze({ srv_kind: k, srv_name: n, key: `${k}\0${n}` });
}

const SRV_OVERFLOW: OverflowCounter = {
  name: 'srv_label_sets_overflow_total',
  help: 'Inbound connections recorded without their srv_* labels because the metric already had its maximum of distinct Servers',
};

/**
 * One metric family's admission of distinct srv_* sets, so that a control plane renaming Servers
 * without end cannot grow a proxy's series without limit.
 */
export class SrvLabelBudget extends LabelSetBudget<SrvLabels> {
  constructor(registry: Registry, metric: string, max = MAX_SRV_SETS) {
    super(registry, SRV_OVERFLOW, metric, max);
  }
}
