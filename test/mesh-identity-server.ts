/**
 * An identity service issuing short-lived leaves, for the certificate-rotation test: the same
 * service `linnet control` serves (control/identity), bound on a real gRPC port, but with a leaf
 * lifetime of seconds (the CLI has no flag for that; 24h is the contract).
 *
 *   node mesh-identity-server.js --dir CA_DIR --addr IP:PORT --lifetime-ms 15000 --token ID=TOKEN ...
 */
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { createIdentityService, StaticTokenVerifier } from '../control/identity';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      addr: { type: 'string' },
      'lifetime-ms': { type: 'string', default: '15000' },
      token: { type: 'string', multiple: true, default: [] },
    },
  });
  const workloads = values.token!.map((t) => {
    const i = t.indexOf('=');
    return { identity: t.slice(0, i), token: t.slice(i + 1) };
  });
  const svc = await createIdentityService({
    identityDir: values.dir!,
    trustDomain: 'cluster.local',
    controlNamespace: 'linnet',
    tokens: new StaticTokenVerifier(workloads),
    issuanceLifetimeMs: Number(values['lifetime-ms']),
    log: (level, message) => process.stderr.write(`${level} ${message}\n`),
  });
  const server = new grpc.Server();
  server.addService(svc.service, svc.implementation);
  await new Promise<void>((ok, fail) => server.bindAsync(values.addr!, grpc.ServerCredentials.createInsecure(), (e) => (e ? fail(e) : ok())));
  process.stdout.write(JSON.stringify({ event: 'listening' }) + '\n');
  process.on('SIGTERM', () => server.tryShutdown(() => void svc.close().then(() => process.exit(0))));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
