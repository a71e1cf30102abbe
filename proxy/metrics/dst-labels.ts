/**
 * The destination's metric labels, as linkerd2-proxy writes them: each label discovery gives an
 * endpoint (`pod`, `service`, `namespace`, `deployment`, `serviceaccount`, the mesh file's own)
 * becomes `dst_<name>` on every outbound HTTP and TCP series. Bounded, so that a label set cannot
 * grow a proxy's memory without limit: names are sanitised, values cut to MAX_VALUE_LENGTH, at most
 * MAX_LABELS per endpoint, and each metric family admits at most MAX_SETS distinct sets; a request
 * or connection past that is recorded without its dst_* labels and counted in
 * `dst_label_sets_overflow_total{metric}`.
 */
import { LabelSetBudget, type OverflowCounter } from './label-budget';
import type { Registry } from './registry';

export const MAX_VALUE_LENGTH = 128;
export const MAX_LABELS = 16;
export const MAX_SETS = 1000;

/** A destination's labels, built once per endpoint: the labels and the key that names the set. */
export interface DstLabels {
  readonly labels: Readonly<Record<string, string>>;
  readonly key: string;
}

/** `dst_` + the name with anything outside [a-zA-Z0-9_] made `_`. */
function labelName(k: string): string {
  return `dst_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Builds the dst_* set of one endpoint's discovery labels; undefined when there are none. */
export function dstLabelsOf(raw: Readonly<Record<string, string>>): DstLabels | undefined {
  const names = Object.keys(raw)
    .filter((k) => k !== '' && typeof raw[k] === 'string')
    .sort()
    .slice(0, MAX_LABELS);
  if (names.length === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const k of names) {
    const v = raw[k]!;
    labels[labelName(k)] = v.length > MAX_VALUE_LENGTH ? v.slice(0, MAX_VALUE_LENGTH) : v;
  }
  return Object.freeze({ labels: Object.freeze(labels), key: JSON.stringify(labels) });
}

const DST_OVERFLOW: OverflowCounter = {
  name: 'dst_label_sets_overflow_total',
  help: 'Requests and connections recorded without their dst_* labels because the metric already had its maximum of distinct destination label sets',
};

/** One metric family's admission of distinct dst_* sets. */
export class DstLabelBudget extends LabelSetBudget<DstLabels> {
  constructor(registry: Registry, metric: string, max = MAX_SETS) {
    super(registry, DST_OVERFLOW, metric, max);
  }
}
