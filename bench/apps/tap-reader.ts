/**
 * The tap reader of the bench's `linnet-tap` target: certifies as the bench's tap identity,
 * opens a tap on all traffic of the app pod's proxy (no match, no limit, the proxy's rate cap),
 * reads every event as fast as it comes, and on SIGTERM prints what it read.
 *
 *   node tap-reader.js --identity-addr IP:8080 --identity NAME --token-file F --anchors F --addr IP:4190 --proxy-identity NAME
 */
import { readFileSync } from 'node:fs';
import { observeTap } from '../../control/viz/tap-client';
import { createLogger } from '../../core/log';
import { createIdentityClient } from '../../proxy/identity';
import { flags, report } from './args';

async function main(): Promise<void> {
  const f = flags({ 'identity-addr': 'string', identity: 'string', 'token-file': 'string', anchors: 'string', addr: 'string', 'proxy-identity': 'string' });
  const id = createIdentityClient({
    svcAddr: String(f['identity-addr']),
    localName: String(f.identity),
    tokenFile: String(f['token-file']),
    trustAnchorsPem: readFileSync(String(f.anchors), 'utf8'),
    log: createLogger('error', 'tap-reader'),
  });
  const m = await id.ready();
  const ac = new AbortController();
  let events = 0;
  let requests = 0;
  process.on('SIGTERM', () => ac.abort());
  const stream = observeTap(
    { addr: String(f.addr), proxyIdentity: String(f['proxy-identity']), certPem: m.certChainPem, keyPem: m.keyPem, trustAnchorsPem: m.trustAnchorsPem },
    { signal: ac.signal, onOpen: () => report({ event: 'open' }) },
  );
  try {
    for await (const e of stream) {
      events++;
      if (e.http.kind === 'request_init') requests++;
    }
    report({ event: 'done', events, requests });
  } catch (err) {
    report({ event: 'error', message: (err as Error).message, events });
  } finally {
    id.close();
    process.exit(0);
  }
}

void main();
