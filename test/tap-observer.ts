/**
 * A tap reader for pod tests (it runs inside a pod, where the proxies' 4190 is reachable): gets
 * its own certificate from the identity service with a token, as the viz service does, opens
 * Observe on one proxy with control/viz/tap-client.ts, and prints one JSON line per event, plus
 * {"event":"open"} once the tap is open and {"event":"end"} or {"event":"error",...} at the end.
 *
 *   node tap-observer.js --identity-addr IP:8080 --identity NAME --token-file F --anchors F \
 *     --addr IP:4190 --proxy-identity NAME [--limit N] [--match JSON]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { observeTap, TapClientError, type TapMatch } from '../control/viz/tap-client';
import { createLogger } from '../core/log';
import { createIdentityClient } from '../proxy/identity';

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      'identity-addr': { type: 'string' },
      identity: { type: 'string' },
      'token-file': { type: 'string' },
      anchors: { type: 'string' },
      addr: { type: 'string' },
      'proxy-identity': { type: 'string' },
      limit: { type: 'string', default: '0' },
      match: { type: 'string' },
    },
  });
  const id = createIdentityClient({
    svcAddr: v['identity-addr']!,
    localName: v.identity!,
    tokenFile: v['token-file']!,
    trustAnchorsPem: readFileSync(v.anchors!, 'utf8'),
    log: createLogger('error', 'tap-observer'),
  });
  const m = await id.ready();
  const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  try {
    const stream = observeTap(
      { addr: v.addr!, proxyIdentity: v['proxy-identity']!, certPem: m.certChainPem, keyPem: m.keyPem, trustAnchorsPem: m.trustAnchorsPem },
      { limit: Number(v.limit), ...(v.match ? { match: JSON.parse(v.match) as TapMatch } : {}), onOpen: () => out({ event: 'open' }) },
    );
    for await (const e of stream) out({ event: 'tap', ...e });
    out({ event: 'end' });
  } catch (err) {
    out({ event: 'error', code: err instanceof TapClientError ? err.code : 'unknown', message: (err as Error).message });
  } finally {
    id.close();
  }
}

void main();
