/**
 * Who may certify as what. The CA asks a TokenVerifier whether a token proves an identity:
 * - StaticTokenVerifier: the mesh file's `workloads` list (identity → token), for the file source;
 * - KubernetesTokenVerifier: a TokenReview against the API server, for the Kubernetes source,
 *   as Linkerd's identity controller does. The reviewed user `system:serviceaccount:<ns>:<sa>`
 *   must map to the requested identity name.
 * Both throw IdentityError (TOKEN_MISSING / TOKEN_INVALID → UNAUTHENTICATED, TOKEN_UNVERIFIABLE
 * → UNAVAILABLE).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { IdentityError } from './errors';
import { identityName } from './names';

export interface TokenVerifier {
  /** Resolves when `token` proves `identity`; throws IdentityError otherwise. */
  verify(token: string, identity: string): Promise<void>;
}

function missing(): IdentityError {
  return new IdentityError('LINNET_IDENTITY_TOKEN_MISSING', 'the request carries no token', {
    hint: 'set LINNET_PROXY_IDENTITY_TOKEN_FILE to a file holding the workload token',
  });
}

// Hash both sides first so the comparison takes the same time whatever the lengths.
function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Tokens from the mesh file: each workload identity has its own token. */
export class StaticTokenVerifier implements TokenVerifier {
  private readonly tokens: Map<string, string>;

  constructor(workloads: ReadonlyArray<{ identity: string; token: string }>) {
    this.tokens = new Map(workloads.map((w) => [w.identity, w.token]));
  }

  async verify(token: string, identity: string): Promise<void> {
    if (token === '') throw missing();
    const expected = this.tokens.get(identity);
    // Same message whether the identity is unknown or the token wrong: no oracle for names.
    if (expected === undefined || !sameSecret(token, expected)) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_INVALID', `the token does not prove identity ${identity}`, {
        hint: 'use the token the mesh file lists for this identity under workloads',
      });
    }
  }
}

export interface KubernetesTokenVerifierOptions {
  /** The API server, e.g. `https://10.96.0.1:443`. */
  apiServer: string;
  /** The identity controller's own bearer token (its service account token). */
  bearerToken?: string;
  /** Read the bearer token from this file on every review (projected tokens rotate). */
  bearerTokenFile?: string;
  /** PEM CA bundle to verify the API server's certificate. */
  ca?: string | Buffer;
  controlNamespace: string;
  trustDomain: string;
  /** Audiences to ask the TokenReview for (empty: the API server's default). */
  audiences?: string[];
  timeoutMs?: number;
}

/** The subset of authentication.k8s.io/v1 TokenReview we read. */
interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string };
}

const SA_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

export class KubernetesTokenVerifier implements TokenVerifier {
  constructor(private readonly opts: KubernetesTokenVerifierOptions) {}

  /** Options from the pod's mounted service account, as client-go's in-cluster config. */
  static inClusterOptions(controlNamespace: string, trustDomain: string, env = process.env): KubernetesTokenVerifierOptions {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_UNVERIFIABLE', 'KUBERNETES_SERVICE_HOST is not set: not running in a cluster', {
        hint: 'run inside Kubernetes or use the file discovery source',
      });
    }
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    return {
      apiServer: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      bearerTokenFile: `${sa}/token`,
      ca: readFileSync(`${sa}/ca.crt`),
      controlNamespace,
      trustDomain,
    };
  }

  async verify(token: string, identity: string): Promise<void> {
    if (token === '') throw missing();
    const status = await this.review(token);
    if (status.error) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_INVALID', `the API server rejected the token: ${status.error}`);
    }
    if (status.authenticated !== true) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_INVALID', 'the API server did not authenticate the token', {
        hint: "mount the pod's service account token and set LINNET_PROXY_IDENTITY_TOKEN_FILE to it",
      });
    }
    const username = status.user?.username ?? '';
    const m = SA_USER.exec(username);
    if (!m) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_INVALID', `the token belongs to ${JSON.stringify(username)}, not a service account`);
    }
    const proven = identityName({ namespace: m[1]!, serviceAccount: m[2]! }, this.opts.controlNamespace, this.opts.trustDomain);
    if (proven !== identity) {
      throw new IdentityError('LINNET_IDENTITY_TOKEN_INVALID', `the token proves ${proven}, not the requested ${identity}`);
    }
  }

  private bearer(): string | undefined {
    if (this.opts.bearerTokenFile) return readFileSync(this.opts.bearerTokenFile, 'utf8').trim();
    return this.opts.bearerToken;
  }

  private review(token: string): Promise<TokenReviewStatus> {
    const body = JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(this.opts.audiences?.length ? { audiences: this.opts.audiences } : {}) },
    });
    const url = new URL('/apis/authentication.k8s.io/v1/tokenreviews', this.opts.apiServer);
    const bearer = this.bearer();
    const unverifiable = (why: string, cause?: unknown) =>
      new IdentityError('LINNET_IDENTITY_TOKEN_UNVERIFIABLE', `TokenReview at ${url.origin} failed: ${why}`, {
        hint: 'check the API server address, its CA, and that the identity service account may create tokenreviews',
        cause,
      });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca: this.opts.ca,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          },
          timeout: this.opts.timeoutMs ?? 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(unverifiable(err.message, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 201 && res.statusCode !== 200) {
              reject(unverifiable(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
              return;
            }
            try {
              const parsed = JSON.parse(text) as { kind?: string; status?: TokenReviewStatus };
              if (parsed.kind !== 'TokenReview') throw new Error(`answer is a ${parsed.kind}, not a TokenReview`);
              resolve(parsed.status ?? {});
            } catch (err) {
              reject(unverifiable(`unreadable answer: ${(err as Error).message}`, err));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(unverifiable(err.message, err)));
      req.end(body);
    });
  }
}
