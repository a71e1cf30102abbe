/**
 * Warns before the CA's own certificates run out: a log line and a gauge per certificate
 * (`identity_issuer_expiry_warning{cert="issuer"|"anchor"}` = 1 within the warning window) plus
 * its expiry time (`identity_ca_expiration_timestamp_seconds{cert=...}`), so an alert can fire
 * weeks before proxies stop getting certificates.
 */
import { Gauge, type Registry } from 'prom-client';

export const EXPIRY_WARNING_WINDOW_MS = 60 * 24 * 3_600_000;

export interface ExpiringCert {
  role: 'issuer' | 'anchor';
  subject: string;
  notAfter: Date;
  /** Warn this long before the end instead of 60 days (a self-rotating 7-day issuer: when its rotation is overdue). */
  warnWindowMs?: number;
}

/** Pure: which certificates expire within `windowMs` of `now`, each with a message. */
export function expiryWarnings(certs: readonly ExpiringCert[], now: number, windowMs = EXPIRY_WARNING_WINDOW_MS): { cert: ExpiringCert; message: string }[] {
  return certs
    .filter((c) => c.notAfter.getTime() - now <= (c.warnWindowMs ?? windowMs))
    .map((cert) => {
      const left = cert.notAfter.getTime() - now;
      const when = left <= 0 ? `expired ${Math.floor(-left / 86_400_000)} day(s) ago` : `expires in ${Math.floor(left / 86_400_000)} day(s)`;
      return { cert, message: `identity ${cert.role} certificate ${cert.subject} ${when} (${cert.notAfter.toISOString()}); rotate it` };
    });
}

export interface ExpiryMonitor {
  check(): void;
  close(): void;
}

export function startExpiryMonitor(opts: {
  /** The certificates in use now (a function: the issuer and bundle change while running). */
  certs: readonly ExpiringCert[] | (() => readonly ExpiringCert[]);
  registry?: Registry;
  log: (level: 'warn' | 'info', message: string) => void;
  intervalMs?: number;
  now?: () => number;
}): ExpiryMonitor {
  const registers = opts.registry ? [opts.registry] : [];
  const warning = new Gauge({
    name: 'identity_issuer_expiry_warning',
    help: 'Whether the identity CA certificate expires within 60 days (1) or not (0)',
    labelNames: ['cert'],
    registers,
  });
  const expiry = new Gauge({
    name: 'identity_ca_expiration_timestamp_seconds',
    help: 'When the identity CA certificate expires, in seconds since the Unix epoch',
    labelNames: ['cert'],
    registers,
  });
  const daysLeft = new Gauge({
    name: 'identity_ca_days_left',
    help: 'Days until the identity CA certificate expires (the soonest per role; negative once expired)',
    labelNames: ['cert'],
    registers,
  });
  const now = opts.now ?? Date.now;
  const certsNow = typeof opts.certs === 'function' ? opts.certs : () => opts.certs as readonly ExpiringCert[];
  const check = () => {
    const certs = certsNow();
    const warnings = new Set(expiryWarnings(certs, now()).map((w) => (opts.log('warn', w.message), w.cert)));
    // Several anchors share the label; the gauge shows the soonest expiry per role.
    const soonest = new Map<string, number>();
    for (const c of certs) soonest.set(c.role, Math.min(soonest.get(c.role) ?? Infinity, c.notAfter.getTime() / 1000));
    for (const [role, t] of soonest) {
      expiry.set({ cert: role }, t);
      daysLeft.set({ cert: role }, Math.floor((t * 1000 - now()) / 8_640_000) / 10);
    }
    for (const role of ['issuer', 'anchor'] as const) {
      warning.set({ cert: role }, [...warnings].some((c) => c.role === role) ? 1 : 0);
    }
  };
  check();
  // Hourly: days-left moves and a short issuer's window is days, not months; unref so the
  // timer never holds the process open. The issuer manager also calls check() on every change.
  const timer = setInterval(check, opts.intervalMs ?? 3_600_000);
  timer.unref();
  return {
    check,
    close: () => {
      clearInterval(timer);
      if (opts.registry) {
        opts.registry.removeSingleMetric('identity_issuer_expiry_warning');
        opts.registry.removeSingleMetric('identity_ca_expiration_timestamp_seconds');
        opts.registry.removeSingleMetric('identity_ca_days_left');
      }
    },
  };
}
