/**
 * Test support: first bytes of real non-TLS clients, captured live, with the answer detect()
 * must give. Complements samples.ts (hand-written bytes) with what the tools really send.
 */
import type { Detected } from '../../../proxy/accept/detect/detect';
import { captureCommand } from './capture';

export interface RealClient {
  name: string;
  bytes: Buffer;
  expect: Detected;
}

const http1 = (method: string, target: string, version: '1.0' | '1.1'): Detected => ({ kind: 'http1', method, target, version });

interface Spec {
  name: string;
  expect: Detected;
  command: string;
  args: (port: number) => string[];
  greeting?: Buffer;
}

const curl = (...args: string[]) => ['-s', '--max-time', '10', ...args];

const SPECS: Spec[] = [
  { name: 'curl-http11-get', expect: http1('GET', '/hello?x=1', '1.1'), command: 'curl', args: (p) => curl(`http://127.0.0.1:${p}/hello?x=1`) },
  { name: 'curl-http10-head', expect: http1('HEAD', '/', '1.0'), command: 'curl', args: (p) => curl('--http1.0', '-I', `http://127.0.0.1:${p}/`) },
  { name: 'curl-options-star', expect: http1('OPTIONS', '*', '1.1'), command: 'curl', args: (p) => curl('-X', 'OPTIONS', '--request-target', '*', `http://127.0.0.1:${p}/`) },
  // Through an HTTP proxy: absolute-form for plain HTTP, CONNECT authority-form for a tunnel.
  { name: 'curl-proxy-absolute', expect: http1('GET', 'http://web.demo.svc.cluster.local/api', '1.1'), command: 'curl', args: (p) => curl('-x', `http://127.0.0.1:${p}`, 'http://web.demo.svc.cluster.local/api') },
  { name: 'curl-proxy-connect', expect: http1('CONNECT', 'db.example.test:5432', '1.1'), command: 'curl', args: (p) => curl('-p', '-x', `http://127.0.0.1:${p}`, 'telnet://db.example.test:5432') },
  { name: 'curl-h2-prior-knowledge', expect: { kind: 'h2' }, command: 'curl', args: (p) => curl('--http2-prior-knowledge', `http://127.0.0.1:${p}/`) },
  { name: 'nghttp-h2-prior-knowledge', expect: { kind: 'h2' }, command: 'nghttp', args: (p) => [`http://127.0.0.1:${p}/`] },
  { name: 'redis-cli-ping', expect: { kind: 'opaque', reason: 'http1-bad-method' }, command: 'redis-cli', args: (p) => ['-h', '127.0.0.1', '-p', String(p), 'PING'] },
  // SMTP: the server speaks first; what matters is what the client says after the banner.
  {
    name: 'swaks-ehlo',
    expect: { kind: 'opaque', reason: 'http1-bad-target' },
    command: 'swaks',
    args: (p) => ['--server', '127.0.0.1', '--port', String(p), '--helo', 'client.example.test', '--to', 'a@example.test', '--timeout', '10'],
    greeting: Buffer.from('220 mail.example.test ESMTP\r\n', 'latin1'),
  },
];

export async function captureRealClients(): Promise<RealClient[]> {
  const out: RealClient[] = [];
  for (const s of SPECS) out.push({ name: s.name, expect: s.expect, bytes: await captureCommand(s.command, s.args, { greeting: s.greeting }) });
  return out;
}
