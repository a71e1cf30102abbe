/**
 * The Identity gRPC service: checks a Certify request (identity name, token, CSR) and signs a
 * leaf with the loaded issuer. Signing runs in a piscina worker so a burst of proxies starting
 * does not stall the control plane's event loop (destination watches share it).
 */
import * as grpc from '@grpc/grpc-js';
import { Piscina } from 'piscina';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { loadIssuer, type LoadedIssuer } from './ca';
import { IdentityError, type IdentityErrorCode } from './errors';
import { startExpiryMonitor, type ExpiringCert } from './expiry-monitor';
import type { IssueResult, IssueTask } from './issue';
import { parseIdentityName } from './names';
import { identityServiceConstructor, type CertifyRequestMsg, type CertifyResponseMsg } from '../../core/api/identity';
import type { TokenVerifier } from './token-verifier';
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_ISSUANCE_LIFETIME_MS, leafValidity } from './validity';

export type IdentityLog = (level: 'info' | 'warn', message: string) => void;

export interface IdentityServiceOptions {
  /** Directory with ca.crt, issuer.crt, issuer.key. */
  identityDir: string;
  trustDomain: string;
  controlNamespace: string;
  tokens: TokenVerifier;
  /** Leaf lifetime; default 24h. */
  issuanceLifetimeMs?: number;
  /** How far leaves are backdated; default 20s. */
  clockSkewMs?: number;
  /** Where the expiry gauges go; without it they are kept but not exported. */
  registry?: Registry;
  /** Log sink; default: one line on stderr. */
  log?: IdentityLog;
  /** Signing worker threads; default 1 (the machine is small and signing is ~1ms). */
  signThreads?: number;
}

export interface IdentityService {
  service: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  close(): Promise<void>;
}

const STATUS: Record<IdentityErrorCode, grpc.status> = {
  LINNET_IDENTITY_TOKEN_MISSING: grpc.status.UNAUTHENTICATED,
  LINNET_IDENTITY_TOKEN_INVALID: grpc.status.UNAUTHENTICATED,
  LINNET_IDENTITY_TOKEN_UNVERIFIABLE: grpc.status.UNAVAILABLE,
  LINNET_IDENTITY_NAME_INVALID: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_CSR_INVALID: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_CSR_SAN_MISMATCH: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_ISSUER_EXPIRED: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_ISSUER_INVALID: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_OUTPUT_EXISTS: grpc.status.INTERNAL,
  LINNET_IDENTITY_SIGN_FAILED: grpc.status.INTERNAL,
};

/** The gRPC status for an error code; unknown codes are INTERNAL. */
export function grpcStatusFor(code: string): grpc.status {
  return STATUS[code as IdentityErrorCode] ?? grpc.status.INTERNAL;
}

function defaultLog(level: 'info' | 'warn', message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} identity: ${message}\n`);
}

function workerFile(): string {
  const js = join(__dirname, 'sign-worker.js');
  if (!existsSync(js)) throw new Error(`signing worker ${js} is missing; run the compiled build (npx tsc -p .)`);
  return js;
}

export async function createIdentityService(opts: IdentityServiceOptions): Promise<IdentityService> {
  const log = opts.log ?? defaultLog;
  const lifetimeMs = opts.issuanceLifetimeMs ?? DEFAULT_ISSUANCE_LIFETIME_MS;
  const skewMs = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const issuer: LoadedIssuer = await loadIssuer(opts.identityDir);
  const issuerWindow = { notBefore: new Date(issuer.issuer.validFrom), notAfter: new Date(issuer.issuer.validTo) };
  const certs: ExpiringCert[] = [
    { role: 'issuer', subject: issuer.issuer.subject.replace(/\n/g, ','), notAfter: issuerWindow.notAfter },
    ...issuer.anchors.map((a) => ({ role: 'anchor' as const, subject: a.subject.replace(/\n/g, ','), notAfter: new Date(a.validTo) })),
  ];
  const monitor = startExpiryMonitor({ certs, registry: opts.registry, log });
  const pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: Math.max(1, opts.signThreads ?? 1), idleTimeout: 60_000 });
  log('info', `issuer ${certs[0]!.subject} loaded from ${opts.identityDir}; leaves live ${lifetimeMs}ms`);

  async function certify(req: CertifyRequestMsg): Promise<CertifyResponseMsg> {
    const identity = req.identity ?? '';
    if (identity === '') {
      throw new IdentityError('LINNET_IDENTITY_NAME_INVALID', 'the request names no identity', { hint: 'set CertifyRequest.identity' });
    }
    parseIdentityName(identity, opts.controlNamespace, opts.trustDomain);
    const token = Buffer.from(req.token ?? []).toString('utf8').trim();
    await opts.tokens.verify(token, identity);
    const window = leafValidity(Date.now(), lifetimeMs, skewMs, issuerWindow);
    const task: IssueTask = {
      identity,
      csrDer: new Uint8Array(req.certificate_signing_request ?? []),
      issuerCertDer: new Uint8Array(issuer.issuerDer),
      issuerKeyPkcs8: new Uint8Array(issuer.issuerKeyPkcs8),
      issuerKeyKind: issuer.issuerKeyKind,
      notBeforeMs: window.notBefore.getTime(),
      notAfterMs: window.notAfter.getTime(),
    };
    const result = (await pool.run(task)) as IssueResult;
    if (!result.ok) {
      throw new IdentityError(result.code as IdentityErrorCode, result.message, { hint: result.hint });
    }
    log('info', `issued a certificate for ${identity} valid until ${window.notAfter.toISOString()}`);
    const seconds = Math.floor(window.notAfter.getTime() / 1000);
    return {
      leaf_certificate: Buffer.from(result.leafDer),
      intermediate_certificates: [issuer.issuerDer],
      valid_until: { seconds, nanos: 0 },
    };
  }

  const implementation: grpc.UntypedServiceImplementation = {
    Certify(call: grpc.ServerUnaryCall<CertifyRequestMsg, CertifyResponseMsg>, callback: grpc.sendUnaryData<CertifyResponseMsg>) {
      certify(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          const e =
            err instanceof IdentityError
              ? err
              : new IdentityError('LINNET_IDENTITY_SIGN_FAILED', `certify failed: ${(err as Error)?.message ?? String(err)}`);
          log('warn', `refused certify for ${JSON.stringify(call.request.identity)}: ${e.describe()}`);
          callback({ code: grpcStatusFor(e.code), details: e.describe() }, null);
        },
      );
    },
  };

  return {
    service: identityServiceConstructor().service,
    implementation,
    close: async () => {
      monitor.close();
      await pool.destroy();
    },
  };
}
