/**
 * One metric family's admission of distinct label sets of one kind (dst_* from discovery, srv_*
 * from the policy controller), so that names another component chooses cannot grow a proxy's
 * series without limit: past `max` distinct sets, a request or connection is recorded without
 * that set and counted in the kind's overflow counter, labelled with the family (`{metric}`).
 */
import { Counter, type Registry } from './registry';

/** The overflow counter of one kind of label set. */
export interface OverflowCounter {
  name: string;
  help: string;
}

/** One counter per registry and name, shared by every family's budget. */
const counters = new WeakMap<Registry, Map<string, Counter>>();

function counterOf(registry: Registry, c: OverflowCounter): Counter {
  let byName = counters.get(registry);
  if (!byName) counters.set(registry, (byName = new Map()));
  let counter = byName.get(c.name);
  if (!counter) byName.set(c.name, (counter = new Counter(registry, { name: c.name, help: c.help, labelNames: ['metric'] })));
  return counter;
}

export class LabelSetBudget<T extends { readonly key: string }> {
  private readonly seen = new Set<string>();
  private readonly overflow: () => void;

  constructor(
    registry: Registry,
    counter: OverflowCounter,
    metric: string,
    private readonly max: number,
  ) {
    this.overflow = counterOf(registry, counter).bind({ metric });
  }

  /** The set to record with: `s` when it is known or there is room, else undefined (counted). */
  admit(s: T | undefined): T | undefined {
    if (!s || this.seen.has(s.key)) return s;
    if (this.seen.size >= this.max) {
      this.overflow();
      return undefined;
    }
    this.seen.add(s.key);
    return s;
  }

  get size(): number {
    return this.seen.size;
  }
}
