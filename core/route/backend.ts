/**
 * A rule's backend for one request, by weight (Gateway API backendRefs): each backend gets
 * weight/total of the requests; a weight of 0 is never chosen. Pure: the random number is given.
 */
import type { Backend } from './model';

/** `r` in [0, 1). Undefined when there is no backend with a positive weight (the request gets 500). */
export function pickBackend(backends: readonly Backend[], r: number): Backend | undefined {
  let total = 0;
  for (const b of backends) total += b.weight > 0 ? b.weight : 0;
  if (total <= 0) return undefined;
  let x = r * total;
  let last: Backend | undefined;
  for (const b of backends) {
    if (b.weight <= 0) continue;
    last = b;
    if (x < b.weight) return b;
    x -= b.weight;
  }
  return last; // r rounding to total
}
