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
import { createHash } from 'node:crypto';
import { IdentityError, type IdentityErrorCode } from './errors';
import { startIssuerManager, type IssuerManager } from './issuer-manager';
import { dirStore, type IdentityStore } from './store';
import type { IssueResult, IssueTask } from './issue';
import { parseIdentityName } from './names';
import { identityServiceConstructor, type CertifyRequestMsg, type CertifyResponseMsg } from '../../core/api/identity';
import type { TokenVerifier } from './token-verifier';
import { x509 } from './keys';
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_ISSUANCE_LIFETIME_MS, leafValidity } from './validity';

export type IdentityLog = (level: 'info' | 'warn', message: string) => void;

export interface IdentityServiceOptions {
  /** Directory with ca.crt, issuer.crt, issuer.key (and ca.key: the issuer rotates itself). */
  identityDir?: string;
  /** Or another store (Kubernetes Secrets). */
  store?: IdentityStore;
  /** Or a running manager (the caller owns it). */
  manager?: IssuerManager;
  /** How often the store is re-read for a new issuer or bundle; default 10 s. */
  pollMs?: number;
  /** Lifetime of issuers the CA makes itself; default 7 days. */
  issuerLifetimeMs?: number;
  /** Make new issuers when the anchor key is at hand; default true. */
  selfRotate?: boolean;
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
  manager: IssuerManager;
  /** When this service started, and its leaf lifetime: what rotate-anchor's waits need. */
  startedAt: number;
  leafLifetimeMs: number;
  /** The proxies this process certified whose leaves are still valid, with the bundle each was given. */
  proxies(): ProxyRecord[];
  close(): Promise<void>;
}

/** One proxy as the CA last saw it (keyed by identity and public key: a pod's key lives as long as it). */
export interface ProxyRecord {
  identity: string;
  keyId: string;
  /** sha256 fingerprints (hex) of the anchors it was given with its last certificate. */
  anchors: string[];
  /** sha256 fingerprint of the issuer that signed its last leaf. */
  issuer: string;
  /** sha256 fingerprint of the anchor that issuer chains to. */
  issuerAnchor: string;
  leafNotAfter: number;
  certifiedAt: number;
  /** the IP the proxy called from (its pod's address): where the viz service finds its admin port */
  address?: string;
}

/** grpc-js' peer string (`10.0.0.7:51234`, `[::1]:51234`, `ipv4:…`) → the IP, or undefined. */
export function peerIp(peer: string | undefined): string | undefined {
  if (!peer) return undefined;
  const m = /^(?:ipv[46]:)?(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):\d+$/.exec(peer);
  return m ? (m[1] ?? m[2]) : undefined;
}

export const fingerprint = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

const STATUS: Record<IdentityErrorCode, grpc.status> = {
  LINNET_IDENTITY_TOKEN_MISSING: grpc.status.UNAUTHENTICATED,
  LINNET_IDENTITY_TOKEN_INVALID: grpc.status.UNAUTHENTICATED,
  LINNET_IDENTITY_TOKEN_UNVERIFIABLE: grpc.status.UNAVAILABLE,
  LINNET_IDENTITY_NAME_INVALID: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_CSR_INVALID: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_CSR_SAN_MISMATCH: grpc.status.INVALID_ARGUMENT,
  LINNET_IDENTITY_ISSUER_EXPIRED: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_ISSUER_INVALID: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_KEY_MISMATCH: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_BUNDLE_INCOMPLETE: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_ISSUER_UNTRUSTED: grpc.status.FAILED_PRECONDITION,
  LINNET_IDENTITY_STORE_FAILED: grpc.status.UNAVAILABLE,
  LINNET_IDENTITY_ROTATION_BLOCKED: grpc.status.FAILED_PRECONDITION,
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
  const store = opts.store ?? (opts.identityDir !== undefined ? dirStore(opts.identityDir) : undefined);
  const ownManager = opts.manager === undefined;
  let manager: IssuerManager;
  if (opts.manager) manager = opts.manager;
  else if (store) {
    manager = await startIssuerManager({
      store,
      log,
      ...(opts.registry ? { registry: opts.registry } : {}),
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
      ...(opts.issuerLifetimeMs !== undefined ? { issuerLifetimeMs: opts.issuerLifetimeMs } : {}),
      ...(opts.selfRotate !== undefined ? { selfRotate: opts.selfRotate } : {}),
      trustDomain: opts.trustDomain,
      controlNamespace: opts.controlNamespace,
    });
  } else throw new IdentityError('LINNET_IDENTITY_ISSUER_INVALID', 'the identity service needs an identity directory or store', { hint: 'pass --identity-dir DIR' });
  const pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: Math.max(1, opts.signThreads ?? 1), idleTimeout: 60_000 });
  log('info', `leaves live ${lifetimeMs}ms`);
  const proxies = new Map<string, ProxyRecord>();
  const startedAt = Date.now();

  async function certify(req: CertifyRequestMsg, peer?: string): Promise<CertifyResponseMsg> {
    const identity = req.identity ?? '';
    if (identity === '') {
      throw new IdentityError('LINNET_IDENTITY_NAME_INVALID', 'the request names no identity', { hint: 'set CertifyRequest.identity' });
    }
    parseIdentityName(identity, opts.controlNamespace, opts.trustDomain);
    const token = Buffer.from(req.token ?? []).toString('utf8').trim();
    await opts.tokens.verify(token, identity);
    // The issuer at this moment: a rotation between two calls takes effect for the next one.
    const issuer = manager.current();
    const issuerWindow = { notBefore: new Date(issuer.issuer.validFrom), notAfter: new Date(issuer.issuer.validTo) };
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
    const keyId = fingerprint(new Uint8Array(new x509.Pkcs10CertificateRequest(new Uint8Array(req.certificate_signing_request ?? [])).publicKey.rawData));
    const now = Date.now();
    for (const [k, p] of proxies) if (p.leafNotAfter <= now) proxies.delete(k);
    proxies.set(`${identity} ${keyId}`, {
      identity,
      keyId,
      anchors: issuer.anchors.map((a) => fingerprint(a.raw)),
      issuer: fingerprint(issuer.issuerDer),
      issuerAnchor: fingerprint(issuer.anchor.raw),
      leafNotAfter: window.notAfter.getTime(),
      certifiedAt: now,
      ...(peer ? { address: peer } : {}),
    });
    return {
      leaf_certificate: Buffer.from(result.leafDer),
      intermediate_certificates: [issuer.issuerDer],
      valid_until: { seconds, nanos: 0 },
      // The whole bundle, over a connection the old anchor already authenticates: a proxy takes a
      // new anchor from here, without a restart (anchor rotation, step 1).
      trust_anchors: issuer.anchors.map((a) => a.raw),
    };
  }

  const implementation: grpc.UntypedServiceImplementation = {
    Certify(call: grpc.ServerUnaryCall<CertifyRequestMsg, CertifyResponseMsg>, callback: grpc.sendUnaryData<CertifyResponseMsg>) {
      certify(call.request, peerIp(call.getPeer())).then(
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
    manager,
    startedAt,
    leafLifetimeMs: lifetimeMs,
    proxies: () => {
      const now = Date.now();
      return [...proxies.values()].filter((p) => p.leafNotAfter > now);
    },
    close: async () => {
      if (ownManager) manager.close();
      await pool.destroy();
    },
  };
}
