/**
 * Test support: a set of real ClientHellos captured live from Node's tls client, `openssl
 * s_client` and `curl`, with what each was asked to send (SNI, ALPN). Used by the unit tests and
 * by the seed-corpus writer.
 */
import { captureCurlHello, captureNodeHello, captureOpensslHello } from './capture';

export interface RealHello {
  name: string;
  bytes: Buffer;
  sni: string | undefined;
  alpn: string[];
  /** The client split its hello over more than one TLS record. */
  multiRecord: boolean;
}

const LONG_HOST = 'a'.repeat(60) + '.b.example.test';
const MANY_PROTOCOLS = Array.from({ length: 40 }, (_, i) => `proto-number-${i}`);

export async function captureRealHellos(): Promise<RealHello[]> {
  const specs: Array<Omit<RealHello, 'bytes'> & { capture: () => Promise<Buffer> }> = [
    {
      name: 'tls-node-h2',
      sni: 'web.demo.svc.cluster.local',
      alpn: ['h2', 'http/1.1'],
      multiRecord: false,
      capture: () => captureNodeHello({ servername: 'web.demo.svc.cluster.local', ALPNProtocols: ['h2', 'http/1.1'] }),
    },
    {
      // Node sends no SNI when connecting to an IP without a servername, nor ALPN unless asked.
      name: 'tls-node-no-sni',
      sni: undefined,
      alpn: [],
      multiRecord: false,
      capture: () => captureNodeHello({}),
    },
    {
      name: 'tls-node-tls13-only',
      sni: 'web.demo.serviceaccount.identity.linnet.cluster.local',
      alpn: ['linnet-proxy'],
      multiRecord: false,
      capture: () =>
        captureNodeHello({ servername: 'web.demo.serviceaccount.identity.linnet.cluster.local', ALPNProtocols: ['linnet-proxy'], minVersion: 'TLSv1.3' }),
    },
    {
      // Mixed case on the wire; detection lower-cases it.
      name: 'tls-openssl',
      sni: 'db.example.test',
      alpn: ['h2', 'http/1.1'],
      multiRecord: false,
      capture: () => captureOpensslHello(['-servername', 'Db.Example.TEST', '-alpn', 'h2,http/1.1']),
    },
    {
      name: 'tls-openssl-fragmented',
      sni: LONG_HOST,
      alpn: MANY_PROTOCOLS,
      multiRecord: true,
      // -max_send_frag 512 makes OpenSSL split its ~1 KiB hello over two handshake records.
      capture: () => captureOpensslHello(['-servername', LONG_HOST, '-alpn', MANY_PROTOCOLS.join(','), '-max_send_frag', '512']),
    },
    {
      name: 'tls-curl-h2',
      sni: 'api.example.test',
      alpn: ['h2', 'http/1.1'],
      multiRecord: false,
      capture: () => captureCurlHello('api.example.test', ['--http2']),
    },
    {
      name: 'tls-curl-tls12-http11',
      sni: 'api.example.test',
      alpn: ['http/1.1'],
      multiRecord: false,
      capture: () => captureCurlHello('api.example.test', ['--http1.1', '--tlsv1.2', '--tls-max', '1.2']),
    },
  ];
  const out: RealHello[] = [];
  for (const { capture, ...spec } of specs) out.push({ ...spec, bytes: await capture() });
  return out;
}
