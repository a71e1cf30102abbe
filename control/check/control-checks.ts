/**
 * Checks of a running control plane's identity, from its admin endpoint (`linnet check --control
 * ADDR`, GET /identity/proxies): the anchor, issuer and leaf expiry of the live mesh, ‼ when the
 * issuer's rotation is overdue (a quarter of its life left: self-rotation should have happened
 * at a third) and when a proxy still trusts only an old anchor. Pure over the JSON and a clock.
 */
import { request } from 'node:http';
import { fail, ok, warn, type CheckResult } from './result';

const CAT = 'linnet-identity (running)';
const DAY = 86_400_000;

/** The admin endpoint's answer (control/control-command.ts builds it). */
export interface ControlIdentityView {
  bundle: string[];
  anchors?: { sha256: string; notAfter: number }[];
  issuerAnchor: string;
  issuerNotBefore?: number;
  issuerNotAfter: number;
  proxies: { identity: string; anchors: string[]; issuerAnchor: string; leafNotAfter: number }[];
}

const days = (ms: number) => `${(Math.floor((ms / DAY) * 10) / 10).toFixed(1)} day(s)`;

export function checkRunningIdentity(v: ControlIdentityView, now: number): CheckResult[] {
  const out: CheckResult[] = [];
  const anchor = v.anchors?.find((a) => a.sha256 === v.issuerAnchor);
  if (anchor) {
    const left = anchor.notAfter - now;
    // Days left in the name too: the report shows an ok line's name only.
    const name = `trust anchor in use is valid for at least 60 days (${days(Math.max(0, anchor.notAfter - now))} left)`;
    const hint = 'rotate it: linnet identity rotate-anchor';
    out.push(left <= 0 ? fail(CAT, name, `expired ${new Date(anchor.notAfter).toISOString()}`, hint) : left < 60 * DAY ? warn(CAT, name, `${days(left)} left`, hint) : ok(CAT, name, `${days(left)} left`));
  }
  const from = v.issuerNotBefore ?? v.issuerNotAfter - 7 * DAY;
  const left = v.issuerNotAfter - now;
  const overdue = now >= v.issuerNotAfter - (v.issuerNotAfter - from) / 4;
  const name = `issuer is rotated in time (${days(Math.max(0, left))} left)`;
  const hint = 'the control plane rotates it at a third of its life when it holds the anchor key; otherwise renew it (cert-manager, your PKI) in the Secret or files';
  out.push(left <= 0 ? fail(CAT, name, `expired ${new Date(v.issuerNotAfter).toISOString()}`, hint) : overdue ? warn(CAT, name, `rotation overdue: ${days(left)} left`, hint) : ok(CAT, name, `${days(left)} left`));
  const live = v.proxies.filter((p) => p.leafNotAfter > now);
  if (live.length > 0) {
    const soonest = Math.min(...live.map((p) => p.leafNotAfter));
    out.push(ok(CAT, `${live.length} proxies hold current leaves`, `the soonest expires in ${Math.round((soonest - now) / 1000)} s`));
  }
  const stale = live.filter((p) => !p.anchors.includes(v.issuerAnchor));
  out.push(
    stale.length === 0
      ? ok(CAT, 'every proxy trusts the anchor in use')
      : warn(CAT, 'every proxy trusts the anchor in use', `${stale.length} proxies trust only an old anchor: ${stale.slice(0, 5).map((p) => p.identity).join(', ')}`, 'they get the bundle with their next certificate; if they cannot renew, restart them'),
  );
  const oldLeaves = live.filter((p) => p.issuerAnchor !== v.issuerAnchor);
  if (oldLeaves.length > 0) out.push(warn(CAT, 'every leaf chains to the anchor in use', `${oldLeaves.length} proxies still hold a leaf under an older anchor`, 'they renew at 70% of their leaf\'s life; do not drop the old anchor before (rotate-anchor waits for it)'));
  return out;
}

export function fetchControlIdentity(addr: string, timeoutMs: number): Promise<ControlIdentityView> {
  return new Promise((resolve, reject) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
    if (!m) return reject(new Error(`${addr} is not HOST:PORT`));
    const req = request({ host: m[1], port: Number(m[2]), path: '/identity/proxies', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET /identity/proxies answered ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ControlIdentityView);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}
