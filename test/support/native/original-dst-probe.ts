/**
 * Test fixture, run inside a network namespace by native.test.ts:
 *   node original-dst-probe.js '<json config>'
 * Listens (through listenReusePort or a plain net.Server), dials each target in turn, and for
 * every accepted connection prints what originalDst() and socketOriginalDst() say, as one JSON
 * line on stdout. Errors are reported as data ({ code, errno }), so the test can assert on them.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { LinnetError } from '../../../core/errors';
import { listenReusePort, originalDst, socketFd, socketOriginalDst } from '../../../proxy/transport/native/index';

interface Config {
  listen: { kind: 'reuseport' | 'net-dualstack'; host: string; port: number; family: 4 | 6 };
  dials: { host: string; port: number }[];
}

function attempt<T>(f: () => T): T | { error: { code: string; errno?: string; message: string } } {
  try {
    return f();
  } catch (err) {
    if (err instanceof LinnetError) {
      return { error: { code: err.code, errno: (err as LinnetError & { errno?: string }).errno, message: err.describe() } };
    }
    return { error: { code: 'UNTYPED', message: String(err) } };
  }
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as Config;
  const accepted: Socket[] = [];
  const onConn = (s: Socket) => {
    accepted.push(s);
    server.emit('accepted', s);
  };
  const server: Server = createServer({ pauseOnConnect: true }, onConn);
  if (cfg.listen.kind === 'reuseport') {
    const fd = listenReusePort(cfg.listen.host, cfg.listen.port, cfg.listen.family);
    server.listen({ fd });
  } else {
    server.listen({ host: cfg.listen.host, port: cfg.listen.port, ipv6Only: false });
  }
  await once(server, 'listening');
  const results = [];
  for (const dial of cfg.dials) {
    const client = connect({ host: dial.host, port: dial.port });
    const [accepted] = (await Promise.all([once(server, 'accepted'), once(client, 'connect')]))[0] as [Socket];
    results.push({
      dialled: dial,
      acceptedLocal: { host: accepted.localAddress, port: accepted.localPort },
      originalDst: attempt(() => originalDst(socketFd(accepted), cfg.listen.family)),
      socketOriginalDst: attempt(() => socketOriginalDst(accepted)),
    });
    client.destroy();
    accepted.destroy();
  }
  const listening = server.address();
  server.close();
  process.stdout.write(JSON.stringify({ listening, results }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err instanceof LinnetError ? err.describe() : String(err && err.stack)}\n`);
  process.exit(1);
});
