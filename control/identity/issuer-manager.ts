/**
 * Keeps the CA's issuer current while the control plane runs:
 * - every poll it re-reads the store (files or Secrets); a changed state is checked
 *   (material.ts) and taken live at once, as Linkerd's identity does on IssuerUpdated, or refused
 *   with a log line naming the file or Secret and the check, the running issuer kept;
 * - with the anchor key at hand it makes a new issuer when a third of the current one's life is
 *   left (rotation.ts), writes it to the store (conditionally: one replica wins) and signs with it.
 * Leaves already signed by the old issuer stay valid to their own end: proxies trust the anchor.
 */
import { EventEmitter } from 'node:events';
import { Counter, type Registry } from 'prom-client';
import { createIssuer } from './ca';
import { LinnetError } from '../../core/errors';
import { checkMaterial, type LoadedIssuer } from './material';
import { decideIssuer, daysLeft, DEFAULT_ISSUER_LIFETIME_MS, OVERDUE_AT_LIFE_LEFT } from './rotation';
import { startExpiryMonitor, type ExpiringCert, type ExpiryMonitor } from './expiry-monitor';
import type { IdentityStore } from './store';

export type ManagerLog = (level: 'info' | 'warn', message: string) => void;

export interface IssuerManagerOptions {
  store: IdentityStore;
  log: ManagerLog;
  registry?: Registry;
  /** How often the store is re-read; default 10 s. */
  pollMs?: number;
  /** Lifetime of issuers the CA makes itself; default 7 days. */
  issuerLifetimeMs?: number;
  /** Make new issuers when the anchor key is at hand; default true. Off for cert-manager's issuer. */
  selfRotate?: boolean;
  trustDomain: string;
  controlNamespace: string;
  now?: () => number;
}

export interface IssuerManager extends EventEmitter {
  current(): LoadedIssuer;
  /** One poll: re-read, take or refuse a change, rotate if due. Resolves when done. */
  tick(): Promise<void>;
  close(): void;
  on(event: 'updated', listener: (issuer: LoadedIssuer, reason: 'reloaded' | 'rotated') => void): this;
  on(event: 'refused', listener: (err: LinnetError) => void): this;
}

const subject = (s: string) => s.replace(/\n/g, ',');

/** The certificates the expiry monitor watches, the issuer's window shortened to "rotation overdue". */
export function expiringCerts(l: LoadedIssuer): ExpiringCert[] {
  const from = new Date(l.issuer.validFrom).getTime();
  const to = new Date(l.issuer.validTo).getTime();
  return [
    { role: 'issuer', subject: subject(l.issuer.subject), notAfter: new Date(to), warnWindowMs: Math.min(60 * 86_400_000, (to - from) * OVERDUE_AT_LIFE_LEFT) },
    ...l.anchors.map((a) => ({ role: 'anchor' as const, subject: subject(a.subject), notAfter: new Date(a.validTo) })),
  ];
}

export async function startIssuerManager(opts: IssuerManagerOptions): Promise<IssuerManager> {
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 10_000;
  const first = await opts.store.read();
  let current = await checkMaterial(first.text, opts.store.names, { now: now() });
  let version = first.version;
  for (const w of current.warnings) opts.log('warn', w);
  const registers = opts.registry ? [opts.registry] : [];
  const updates = new Counter({ name: 'identity_issuer_updates_total', help: 'Issuers taken live while running, by reason (rotated: made by this CA; reloaded: read from the store)', labelNames: ['reason'], registers });
  const refusals = new Counter({ name: 'identity_issuer_refused_total', help: 'Changed identity material refused by a check (the running issuer was kept)', registers });
  updates.inc({ reason: 'rotated' }, 0);
  updates.inc({ reason: 'reloaded' }, 0);
  const monitor: ExpiryMonitor = startExpiryMonitor({ certs: () => expiringCerts(current), ...(opts.registry ? { registry: opts.registry } : {}), log: opts.log, now });
  const emitter = new EventEmitter() as IssuerManager;
  let refusedVersion = '';
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const describeIssuer = (l: LoadedIssuer) => {
    const end = new Date(l.issuer.validTo).getTime();
    return `${subject(l.issuer.subject)} (serial ${l.issuer.serialNumber.slice(0, 12)}…, valid until ${new Date(end).toISOString()}, ${daysLeft(end, now())} day(s) left)`;
  };
  const take = (l: LoadedIssuer, v: string, reason: 'reloaded' | 'rotated') => {
    current = l;
    version = v;
    refusedVersion = '';
    updates.inc({ reason });
    monitor.check();
    opts.log('info', `issuer ${reason}: now signing with ${describeIssuer(l)}`);
    emitter.emit('updated', l, reason);
  };

  const once = async (): Promise<void> => {
    const snap = await opts.store.read();
    if (snap.version !== version && snap.version !== refusedVersion) {
      try {
        const l = await checkMaterial(snap.text, opts.store.names, { now: now(), running: current });
        for (const w of l.warnings) opts.log('warn', w);
        if (l.issuerDer.equals(current.issuerDer) && l.text.bundlePem === current.text.bundlePem && l.text.anchorKeyPem === current.text.anchorKeyPem) {
          version = snap.version; // the same material rewritten
        } else {
          take(l, snap.version, 'reloaded');
        }
      } catch (err) {
        const e = err instanceof LinnetError ? err : new LinnetError('LINNET_IDENTITY_ISSUER_INVALID', String(err));
        // Once per distinct content: the store is polled, a refusal must not fill the log.
        refusedVersion = snap.version;
        refusals.inc();
        opts.log('warn', `${e.describe()}; still signing with ${describeIssuer(current)}`);
        emitter.emit('refused', e);
      }
    }
    const l = current;
    const d = decideIssuer({
      now: now(),
      issuer: { notBeforeMs: new Date(l.issuer.validFrom).getTime(), notAfterMs: new Date(l.issuer.validTo).getTime() },
      canSign: (opts.selfRotate ?? true) && l.signingAnchor !== undefined && l.text.anchorKeyPem !== undefined,
      issuerUnderSigningAnchor: l.signingAnchor !== undefined && l.signingAnchor.raw.equals(l.anchor.raw),
      pollMs,
    });
    if (d.action !== 'rotate') return;
    opts.log('info', `making a new issuer: ${d.reason}`);
    const made = await createIssuer(l.signingAnchor!.toString(), l.text.anchorKeyPem!, {
      trustDomain: opts.trustDomain,
      controlNamespace: opts.controlNamespace,
      issuerLifetimeMs: opts.issuerLifetimeMs ?? DEFAULT_ISSUER_LIFETIME_MS,
      now: now(),
    });
    const text = { ...l.text, issuerPem: made.issuerPem, issuerKeyPem: made.issuerKeyPem };
    // Checked like any other input: a bug here must not replace a working issuer.
    const next = await checkMaterial(text, opts.store.names, { now: now(), running: l });
    if (!(await opts.store.writeIssuer(made.issuerPem, made.issuerKeyPem, version))) {
      opts.log('info', 'the store changed while the new issuer was made (another replica rotated it); reading it again');
      return;
    }
    take(next, (await opts.store.read()).version, 'rotated');
  };

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      void emitter.tick().finally(schedule);
    }, pollMs);
    timer.unref();
  };
  emitter.current = () => current;
  emitter.tick = () => {
    // One poll at a time: a slow API server must not let two rotations overlap.
    running ??= once()
      .catch((err) => opts.log('warn', `identity store poll failed: ${err instanceof LinnetError ? err.describe() : String(err)}; still signing with ${describeIssuer(current)}`))
      .finally(() => (running = undefined));
    return running;
  };
  emitter.close = () => {
    closed = true;
    clearTimeout(timer);
    monitor.close();
    if (opts.registry) {
      opts.registry.removeSingleMetric('identity_issuer_updates_total');
      opts.registry.removeSingleMetric('identity_issuer_refused_total');
    }
  };
  opts.log('info', `issuer ${describeIssuer(current)} loaded from ${opts.store.names.issuer}; ${current.signingAnchor && (opts.selfRotate ?? true) ? `the anchor key is at hand: the issuer rotates itself (new ones live ${Math.round((opts.issuerLifetimeMs ?? DEFAULT_ISSUER_LIFETIME_MS) / 3_600_000)}h)` : 'no anchor key: a new issuer is taken from the store when it appears'}`);
  // A start past the rotation point (the control plane was down) rotates at once.
  await emitter.tick();
  schedule();
  return emitter;
}
