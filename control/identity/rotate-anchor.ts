/**
 * `linnet identity rotate-anchor`, the executor: runs anchor-plan.ts's steps against a store
 * (identity dir or Secrets), asking the control plane's admin endpoint about its proxies for the
 * waits. The new anchor and its key are kept in the rotation record from the first step on, so a
 * run stopped anywhere (Ctrl-C, a crash, the control plane restarted) resumes when run again.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { createAnchor } from './ca';
import { IdentityError } from './errors';
import { checkMaterial } from './material';
import { mergeControlViews, nextStep, stepDoneInStore, STEPS, type ControlView, type Decision, type RotationRecord, type StoreView } from './anchor-plan';
import type { IdentityStore } from './store';

const fp = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

export interface RotateOptions {
  store: IdentityStore;
  /**
   * The control plane's admin addresses (HOST:PORT), one per replica: each knows only the proxies
   * it certified. Without one the waits cannot end.
   */
  controlAdmin?: readonly string[];
  trustDomain: string;
  controlNamespace: string;
  anchorLifetimeMs: number;
  dryRun: boolean;
  pollMs?: number;
  timeoutMs?: number;
  out: (line: string) => void;
  now?: () => number;
}

export function fetchControlView(addr: string, timeoutMs = 3000): Promise<ControlView | undefined> {
  return new Promise((resolve) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
    if (!m) return resolve(undefined);
    const req = request({ host: m[1], port: Number(m[2]), path: '/identity/proxies', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as ControlView) : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * The store as fingerprints. The control plane may be writing it at this moment (a new issuer is
 * two files, or a Secret and its re-read), so a state that fails its checks is read again a few
 * times before it counts as broken.
 */
async function view(store: IdentityStore, now: number, retries = 10, delayMs = 200) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await viewOnce(store, now);
    } catch (err) {
      if (attempt >= retries) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

async function viewOnce(store: IdentityStore, now: number) {
  const snap = await store.read();
  const l = await checkMaterial(snap.text, store.names, { now });
  const s: StoreView = {
    bundle: l.anchors.map((a) => fp(a.raw)),
    ...(l.signingAnchor ? { signingAnchor: fp(l.signingAnchor.raw) } : {}),
    issuerAnchor: fp(l.anchor.raw),
  };
  return { snap, loaded: l, s };
}

function line(d: Decision): string {
  if (d.kind === 'finished') return 'rotation finished: the bundle holds the new anchor only';
  const st = STEPS.find((x) => x.id === d.step)!;
  return `[${st.n}/5] ${st.title}: ${d.kind === 'run' ? d.detail : d.detail}`;
}

export async function rotateAnchor(o: RotateOptions): Promise<'finished' | 'planned'> {
  const now = o.now ?? Date.now;
  const pollMs = o.pollMs ?? 1000;
  const deadline = now() + (o.timeoutMs ?? 3_600_000);
  const control = async () => (o.controlAdmin?.length ? mergeControlViews(await Promise.all(o.controlAdmin.map((a) => fetchControlView(a)))) : undefined);
  let rec = await o.store.readRotation();
  let v = await view(o.store, now());
  if (!rec) {
    if (o.dryRun) {
      o.out(`plan (nothing changed; ${o.store.kind === 'dir' ? o.store.names.bundle : o.store.names.bundle}):`);
      o.out(`  current anchor ${v.s.issuerAnchor.slice(0, 16)} (the issuer's), bundle of ${v.s.bundle.length}`);
      for (const st of STEPS) o.out(`  [${st.n}/5] ${st.title}`);
      o.out('  a new ECDSA P-256 anchor is made at step 1; each wait ends when the control plane reports every proxy has it');
      return 'planned';
    }
    const made = await createAnchor({ trustDomain: o.trustDomain, controlNamespace: o.controlNamespace, anchorLifetimeMs: o.anchorLifetimeMs });
    rec = {
      oldAnchor: v.s.issuerAnchor,
      newAnchor: fp(new X509Certificate(made.anchorPem).raw),
      newAnchorPem: made.anchorPem,
      newAnchorKeyPem: made.anchorKeyPem,
      startedAt: now(),
      done: {},
    };
    await o.store.writeRotation(rec);
    o.out(`started: new anchor ${rec.newAnchor.slice(0, 16)} replaces ${rec.oldAnchor.slice(0, 16)} (the record is kept in the store: run again to resume)`);
  } else {
    o.out(`resuming the rotation started ${new Date(rec.startedAt).toISOString()}: new anchor ${rec.newAnchor.slice(0, 16)} replaces ${rec.oldAnchor.slice(0, 16)}`);
  }
  if (o.dryRun) {
    for (const st of STEPS) {
      const done = rec.done[st.id] !== undefined || stepDoneInStore(st.id, rec, v.s);
      o.out(`  [${st.n}/5] ${st.title}${done ? ' (done)' : ''}`);
    }
    o.out(`  next: ${line(nextStep(rec, v.s, await control(), now()))}`);
    return 'planned';
  }
  const save = async (r: RotationRecord) => {
    rec = r;
    await o.store.writeRotation(r);
  };
  let last = '';
  for (;;) {
    v = await view(o.store, now());
    // Steps seen done (by this run or an earlier one) get their time once: the waits count from it.
    for (const id of ['add', 'issuer'] as const) {
      if (rec.done[id] === undefined && stepDoneInStore(id, rec, v.s)) await save({ ...rec, done: { ...rec.done, [id]: now() } });
    }
    const d = nextStep(rec, v.s, await control(), now());
    const text = line(d);
    if (text !== last) o.out(text);
    last = text;
    if (d.kind === 'finished') {
      await o.store.writeRotation(undefined);
      return 'finished';
    }
    if (d.kind === 'run') {
      const bundle = v.loaded.anchors;
      let ok: boolean;
      if (d.step === 'add') ok = await o.store.writeBundle(v.loaded.text.bundlePem.trimEnd() + '\n' + rec.newAnchorPem, undefined, v.snap.version);
      else if (d.step === 'issuer') {
        ok = await o.store.writeBundle(v.loaded.text.bundlePem, { certPem: rec.newAnchorPem, keyPem: rec.newAnchorKeyPem }, v.snap.version);
        if (ok) await save({ ...rec, done: { ...rec.done, spread: now() } });
      } else {
        const kept = bundle.filter((a) => fp(a.raw) !== rec!.oldAnchor).map((a) => a.toString());
        ok = await o.store.writeBundle(kept.join(''), undefined, v.snap.version);
        if (ok) await save({ ...rec, done: { ...rec.done, leaves: now(), drop: now() } });
      }
      if (!ok) o.out('  the store changed under us (the control plane wrote); reading it again');
      continue;
    }
    if (now() > deadline) {
      throw new IdentityError('LINNET_IDENTITY_ROTATION_BLOCKED', `gave up waiting at ${text}`, { hint: 'run `linnet identity rotate-anchor` again to resume; check the proxies named by the control plane' });
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
