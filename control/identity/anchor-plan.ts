/**
 * The trust-anchor rotation, as a pure plan: given where the store is (bundle, signing anchor,
 * issuer's anchor, the rotation record) and what the control plane reports about its proxies,
 * which step comes next and whether it may run. `linnet identity rotate-anchor` executes it;
 * every step is idempotent and judged from the store, so an interrupted run (or a control plane
 * restarted in between) resumes where it was.
 *
 *   1 add      the new anchor joins the bundle (old + new); proxies get it with their next leaf
 *   2 spread   wait until every connected proxy holds the new anchor
 *   3 issuer   the new anchor's key becomes the signing key; the control plane makes an issuer under it
 *   4 leaves   wait until every proxy's leaf chains to the new anchor
 *   5 drop     the old anchor leaves the bundle
 */
export const STEPS = [
  { n: 1, id: 'add', title: 'add the new anchor to the bundle' },
  { n: 2, id: 'spread', title: 'wait until every connected proxy holds the new anchor' },
  { n: 3, id: 'issuer', title: 'issue an issuer under the new anchor' },
  { n: 4, id: 'leaves', title: "wait until every proxy's leaf chains to the new anchor" },
  { n: 5, id: 'drop', title: 'drop the old anchor from the bundle' },
] as const;
export type StepId = (typeof STEPS)[number]['id'];

/** What the rotation keeps between runs (in the store: rotation.json or a Secret). */
export interface RotationRecord {
  /** sha256 fingerprints (hex, no colons) */
  oldAnchor: string;
  newAnchor: string;
  newAnchorPem: string;
  newAnchorKeyPem: string;
  startedAt: number;
  /** When each step was seen done, by id (the waits count from the step before theirs). */
  done: Partial<Record<StepId, number>>;
}

/** The store, reduced to fingerprints. */
export interface StoreView {
  bundle: string[];
  /** The anchor whose key the store holds (undefined: none). */
  signingAnchor?: string;
  /** The anchor the current issuer chains to. */
  issuerAnchor: string;
}

/** What a control plane says about the proxies it certified (GET /identity/proxies). */
export interface ControlView {
  /** When this control plane started (ms). */
  startedAt: number;
  /** Leaf lifetime (ms): after this long every leaf issued before a moment has expired. */
  leafLifetimeMs: number;
  proxies: { identity: string; anchors: string[]; issuerAnchor: string; leafNotAfter: number }[];
}

/**
 * Several replicas of the control plane, each knowing only the proxies it certified, as one view:
 * every proxy any of them knows, and "up since" the latest of their starts (a wait may trust that
 * it saw every renewal only if every replica did). One replica that cannot be asked makes the
 * whole view unknown: the proxies it certified could be the ones still on the old anchor.
 */
export function mergeControlViews(views: readonly (ControlView | undefined)[]): ControlView | undefined {
  if (views.length === 0 || views.some((v) => v === undefined)) return undefined;
  const vs = views as readonly ControlView[];
  return {
    startedAt: Math.max(...vs.map((v) => v.startedAt)),
    leafLifetimeMs: Math.max(...vs.map((v) => v.leafLifetimeMs)),
    proxies: vs.flatMap((v) => v.proxies),
  };
}

export type Decision =
  | { kind: 'run'; step: StepId; detail: string }
  | { kind: 'wait'; step: StepId; detail: string; have: number; of: number; latestAt: number }
  | { kind: 'finished' };

/** Whether a step's effect is visible in the store (1, 3, 5) — what makes each step idempotent. */
export function stepDoneInStore(step: StepId, r: RotationRecord, s: StoreView): boolean {
  switch (step) {
    case 'add':
      return s.bundle.includes(r.newAnchor);
    case 'issuer':
      return s.issuerAnchor === r.newAnchor;
    case 'drop':
      return !s.bundle.includes(r.oldAnchor) && s.bundle.includes(r.newAnchor);
    default:
      return false;
  }
}

/**
 * A wait is over when every proxy the control plane knows has the thing, and no proxy can be
 * unknown to it: it was up when the step before began (it saw every renewal since), or a whole
 * leaf lifetime has passed since then (every leaf issued before has expired, so a proxy still
 * serving has renewed since).
 */
function waitOver(since: number, now: number, c: ControlView | undefined, has: (p: ControlView['proxies'][number]) => boolean, step: StepId, what: string): Extract<Decision, { kind: 'wait' }> | undefined {
  const live = c ? c.proxies.filter((p) => p.leafNotAfter > now) : [];
  const have = live.filter(has).length;
  const latestAt = since + (c?.leafLifetimeMs ?? 0);
  const sawAll = c !== undefined && c.startedAt <= since;
  if (c && have === live.length && (sawAll || now >= latestAt)) return undefined;
  return {
    kind: 'wait',
    step,
    have,
    of: live.length,
    latestAt,
    detail: c
      ? `${have} of ${live.length} connected proxies ${what}${sawAll ? '' : `; the control plane restarted since, so waiting until every older leaf has expired (${new Date(latestAt).toISOString()})`}`
      : 'the control plane cannot be asked about its proxies (give --control ADDR); waiting',
  };
}

export function nextStep(r: RotationRecord, s: StoreView, c: ControlView | undefined, now: number): Decision {
  if (!stepDoneInStore('add', r, s) && !stepDoneInStore('issuer', r, s)) return { kind: 'run', step: 'add', detail: `bundle becomes ${s.bundle.length + 1} anchors (old + new ${r.newAnchor.slice(0, 16)})` };
  const added = r.done.add ?? r.startedAt;
  if (!stepDoneInStore('issuer', r, s)) {
    if (s.signingAnchor !== r.newAnchor) {
      const w = waitOver(added, now, c, (p) => p.anchors.includes(r.newAnchor), 'spread', 'hold the new anchor');
      if (w) return w;
      return { kind: 'run', step: 'issuer', detail: 'the new anchor key becomes the signing key; the control plane makes an issuer under it on its next poll' };
    }
    return { kind: 'wait', step: 'issuer', have: 0, of: 1, latestAt: now, detail: 'waiting for the control plane to make the issuer under the new anchor' };
  }
  if (stepDoneInStore('drop', r, s)) return { kind: 'finished' };
  const issued = r.done.issuer ?? now;
  const w = waitOver(issued, now, c, (p) => p.issuerAnchor === r.newAnchor, 'leaves', 'have a leaf under the new anchor');
  if (w) return w;
  return { kind: 'run', step: 'drop', detail: `bundle becomes the new anchor only (${r.newAnchor.slice(0, 16)})` };
}
