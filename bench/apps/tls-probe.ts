/**
 * Probes the peer mesh's inbound haproxy from the load pod (bench/peer-mesh.ts reads the result):
 * once with the load side's certificate (TLS version, ALPN, whether the server's chain and name
 * verified against the CA, the server's name, and whether an HTTP/2 server preface follows), once
 * without a client certificate (which a server requiring mTLS must refuse).
 *
 *   node tls-probe.js --to 10.1.2.11:13100 --ca ca.crt --pem load.pem --servername app.bench.peer-mesh.local
 *
 * Prints one JSON line: {withCert: {...}, withoutCert: {refused, error}}.
 */
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { flags, report } from './args';

const f = flags({ to: 'string', ca: 'string', pem: 'string', servername: 'string' });
const [host, portText] = String(f.to).split(':') as [string, string];
const ca = readFileSync(String(f.ca));
const pem = f.pem ? readFileSync(String(f.pem), 'utf8') : '';
const servername = String(f.servername);
// An HTTP/2 client connection preface and an empty SETTINGS frame.
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

interface Outcome {
  secure: boolean;
  /** What the handshake gave, read at secureConnect (a destroyed socket no longer says). */
  tls?: { protocol: string | null; alpn: string | false | null; authorized: boolean; authorizationError?: string; peer?: string; cipher?: string };
  /** The first bytes the server sent after the handshake, if any. */
  data?: Buffer;
  error?: string;
}

function attempt(withCert: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { secure: false };
    const sock = connect({
      host,
      port: Number(portText),
      servername,
      ca,
      ...(withCert ? { cert: pem, key: pem } : {}),
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false, // verified below, so that a failure is reported, not thrown
    });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, 3000);
    sock.on('secureConnect', () => {
      out.secure = true;
      out.tls = handshake(sock);
      sock.write(PREFACE);
    });
    sock.on('data', (d: Buffer) => {
      out.data = out.data ? Buffer.concat([out.data, d]) : d;
      // A SETTINGS frame header is 9 bytes; wait a moment for an alert that may follow.
      if (out.data.length >= 9) setTimeout(done, 200);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const first = err.message.split('\n')[0]!.trim();
      out.error = err.code && !first.includes(err.code) ? `${err.code}: ${first}` : first;
      done();
    });
    sock.on('close', done);
  });
}

function handshake(s: TLSSocket): NonNullable<Outcome['tls']> {
  const peerCert = s.getPeerCertificate();
  const san = peerCert?.subjectaltname?.split(', ').map((x) => x.replace(/^DNS:/, ''));
  return {
    protocol: s.getProtocol(),
    alpn: s.alpnProtocol,
    authorized: s.authorized,
    ...(s.authorized ? {} : { authorizationError: String(s.authorizationError) }),
    peer: san?.[0] ?? [peerCert?.subject?.CN].flat()[0],
    cipher: s.getCipher()?.name,
  };
}

async function main(): Promise<void> {
  const a = await attempt(true);
  const withCert = {
    ok: a.secure && !a.error,
    ...a.tls,
    // The server's first frame: type 4 (SETTINGS) at byte 3 of its header.
    h2: a.data !== undefined && a.data.length >= 9 && a.data[3] === 4,
    error: a.error,
  };
  const b = await attempt(false);
  // Refused: the handshake failed, or (TLS 1.3: the server checks the client's certificate after
  // the client's handshake completes) an alert or a close came instead of the server's preface.
  const refused = !b.secure || b.error !== undefined || !(b.data && b.data.length >= 9);
  report({ withCert, withoutCert: { refused, error: b.error } });
}

void main();
