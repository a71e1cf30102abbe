/**
 * Data-plane checks against a proxy's admin endpoint (`--proxy HOST:PORT`, port 4191): /live and
 * /ready answer 200, /metrics is Prometheus text with the proxy's metrics, and the proxy's
 * certificate (identity_cert_expiration_timestamp_seconds) is not expired.
 */
import { request } from 'node:http';
import { fail, ok, warn, type CheckResult } from './result';

const CAT = 'linnet-data-plane';

function get(addr: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
    if (!m) {
      reject(new Error(`${addr} is not HOST:PORT`));
      return;
    }
    const req = request({ host: m[1], port: Number(m[2]), path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** `name{labels} value` lines → the first value of each metric name. */
export function metricValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !out.has(m[1]!)) out.set(m[1]!, Number(m[3]));
  }
  return out;
}

export async function checkProxy(addr: string, now = Date.now(), timeoutMs = 2000): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const hintDown = `is the proxy running and its admin port reachable? (kubectl port-forward POD 4191, then --proxy 127.0.0.1:4191)`;
  try {
    const live = await get(addr, '/live', timeoutMs);
    out.push(live.status === 200 ? ok(CAT, `proxy ${addr} is live`) : fail(CAT, `proxy ${addr} is live`, `GET /live answered ${live.status}`, 'see the proxy\'s log'));
  } catch (err) {
    out.push(fail(CAT, `proxy ${addr} is live`, (err as Error).message, hintDown));
    return out;
  }
  try {
    const ready = await get(addr, '/ready', timeoutMs);
    out.push(ready.status === 200 ? ok(CAT, `proxy ${addr} is ready`) : fail(CAT, `proxy ${addr} is ready`, `GET /ready answered ${ready.status}: ${ready.body.trim().slice(0, 200)}`, 'the proxy has no identity yet: check linnet-identity and the trust anchors'));
  } catch (err) {
    out.push(fail(CAT, `proxy ${addr} is ready`, (err as Error).message, hintDown));
  }
  try {
    const metrics = await get(addr, '/metrics', timeoutMs);
    if (metrics.status !== 200) {
      out.push(fail(CAT, `proxy ${addr} serves metrics`, `GET /metrics answered ${metrics.status}`, 'see the proxy\'s log'));
      return out;
    }
    const values = metricValues(metrics.body);
    const hasProxyMetrics = [...values.keys()].some((k) => k.startsWith('process_') || k.startsWith('tcp_') || k.startsWith('request_total'));
    out.push(hasProxyMetrics ? ok(CAT, `proxy ${addr} serves metrics`) : warn(CAT, `proxy ${addr} serves metrics`, 'no process_*, tcp_* or request_total metrics', 'is this a Linnet proxy\'s admin port?'));
    const expiry = values.get('identity_cert_expiration_timestamp_seconds');
    if (expiry === undefined || expiry === 0) {
      out.push(warn(CAT, `proxy ${addr} has an identity certificate`, 'no identity_cert_expiration_timestamp_seconds', 'the proxy runs without identity (no mTLS): inject it with trust anchors'));
    } else if (expiry * 1000 <= now) {
      out.push(fail(CAT, `proxy ${addr} has a current identity certificate`, `expired at ${new Date(expiry * 1000).toISOString()}`, 'the proxy cannot renew: check linnet-identity and its issuer'));
    } else {
      out.push(ok(CAT, `proxy ${addr} has a current identity certificate`));
    }
  } catch (err) {
    out.push(fail(CAT, `proxy ${addr} serves metrics`, (err as Error).message, hintDown));
  }
  return out;
}
