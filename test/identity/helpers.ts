/**
 * Shared pieces of the identity integration tests: temporary CA directories (Linnet-made or
 * openssl-made), a real gRPC server on loopback, CSRs of every shape, and openssl verify.
 */
import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { createCa, type CreateCaOptions } from '../../control/identity/ca';
import { x509 } from '../../control/identity/keys';
import { identityServiceConstructor, type CertifyResponseMsg, type IdentityClient } from '../../core/api/identity';
import { createIdentityService, type IdentityService, type IdentityServiceOptions } from '../../control/identity/service';

export const TRUST_DOMAIN = 'cluster.local';
export const CONTROL_NS = 'linnet';
export const WEB = 'web.demo.serviceaccount.identity.linnet.cluster.local';
export const DB = 'db.demo.serviceaccount.identity.linnet.cluster.local';

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `linnet-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function linnetCa(dir: string, opts: CreateCaOptions = {}): Promise<void> {
  const ca = await createCa(opts);
  writeFileSync(join(dir, 'ca.crt'), ca.anchorPem);
  writeFileSync(join(dir, 'ca.key'), ca.anchorKeyPem);
  writeFileSync(join(dir, 'issuer.crt'), ca.issuerPem);
  writeFileSync(join(dir, 'issuer.key'), ca.issuerKeyPem);
}

export function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * An anchor and an issuer made with the openssl CLI, as an operator following a PKI runbook
 * would: `anchor` 'ec' (P-256, SEC1 key file as `ecparam -genkey` writes) or 'rsa' (2048,
 * PKCS#1 key); the issuer is ECDSA P-256 or RSA.
 */
export function opensslCa(dir: string, anchor: 'ec' | 'rsa', issuer: 'ec' | 'rsa' = 'ec'): void {
  const genKey = (kind: 'ec' | 'rsa', out: string) =>
    kind === 'ec'
      ? openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', out], dir)
      : openssl(['genrsa', '-traditional', '-out', out, '2048'], dir);
  genKey(anchor, 'ca.key');
  writeFileSync(
    join(dir, 'ext.cnf'),
    [
      '[req]',
      'distinguished_name=dn',
      '[dn]',
      '[root]',
      'basicConstraints=critical,CA:TRUE,pathlen:1',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      '[issuer]',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid:always',
      '',
    ].join('\n'),
  );
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '3650', '-subj', '/CN=root.linnet.cluster.local', '-config', 'ext.cnf', '-extensions', 'root', '-out', 'ca.crt'], dir);
  genKey(issuer, 'issuer.key');
  openssl(['req', '-new', '-key', 'issuer.key', '-subj', '/C=US/O=Linnet Test, Inc./OU=mesh+L=Somewhere/CN=identity.linnet.cluster.local', '-config', 'ext.cnf', '-out', 'issuer.csr'], dir);
  openssl(['x509', '-req', '-in', 'issuer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-sha256', '-days', '365', '-extfile', 'ext.cnf', '-extensions', 'issuer', '-out', 'issuer.crt'], dir);
}

/** `openssl verify` of a leaf through the issuer to the anchor; returns {ok, output}. */
export function opensslVerify(dir: string, leafPem: string, purpose?: 'sslserver' | 'sslclient'): { ok: boolean; output: string } {
  const leaf = join(dir, `leaf-${Math.random().toString(36).slice(2)}.crt`);
  writeFileSync(leaf, leafPem);
  const r = spawnSync('openssl', ['verify', ...(purpose ? ['-purpose', purpose] : []), '-CAfile', join(dir, 'ca.crt'), '-untrusted', join(dir, 'issuer.crt'), leaf], {
    encoding: 'utf8',
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export type KeyAlg = 'ec' | 'rsa';

/** A CSR with the given DNS SANs (and optional extra IP SAN), signed by a fresh key. */
export async function makeCsr(sans: string[], opts: { alg?: KeyAlg; ipSan?: string } = {}): Promise<Buffer> {
  const alg =
    opts.alg === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }
      : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names: { type: 'dns' | 'ip'; value: string }[] = sans.map((value) => ({ type: 'dns' as const, value }));
  if (opts.ipSan) names.push({ type: 'ip', value: opts.ipSan });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${sans[0] ?? 'nobody'}`,
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return Buffer.from(csr.rawData);
}

export interface Running {
  port: number;
  addr: string;
  svc: IdentityService;
  client: IdentityClient;
  stop(): Promise<void>;
}

/** Binds the service on 127.0.0.1 (port 0 = any free one) and connects a raw gRPC client. */
export async function serveIdentity(opts: IdentityServiceOptions, port = 0, credentials = grpc.ServerCredentials.createInsecure()): Promise<Running> {
  const svc = await createIdentityService(opts);
  const server = new grpc.Server();
  server.addService(svc.service, svc.implementation);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  const addr = `127.0.0.1:${bound}`;
  const Ctor = identityServiceConstructor();
  const client = new Ctor(addr, grpc.credentials.createInsecure()) as unknown as IdentityClient;
  return {
    port: bound,
    addr,
    svc,
    client,
    stop: async () => {
      client.close();
      server.forceShutdown();
      await svc.close();
    },
  };
}

export function certify(
  client: IdentityClient,
  req: { identity?: string; token?: string; csr?: Buffer },
): Promise<{ err: grpc.ServiceError | null; res?: CertifyResponseMsg }> {
  return new Promise((resolve) =>
    client.Certify(
      { identity: req.identity ?? '', token: Buffer.from(req.token ?? ''), certificate_signing_request: req.csr ?? Buffer.alloc(0) },
      { deadline: Date.now() + 15_000 },
      (err, res) => resolve({ err, res }),
    ),
  );
}

export const quietLog = (lines: string[] = []) => (level: 'info' | 'warn', message: string) => void lines.push(`${level} ${message}`);
