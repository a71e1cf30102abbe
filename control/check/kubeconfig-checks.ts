/**
 * kubeconfig checks: the file parses, its current context exists and names a cluster with an
 * HTTPS server and usable CA data, and a user with some credential. `checkKubeconfigText` is
 * pure; `checkApiReachable` opens a TCP connection to the server (the one check that needs I/O).
 */
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { parse } from 'yaml';
import { fail, ok, warn, type CheckResult } from './result';

const CAT = 'kubernetes-api';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function named(list: unknown, name: string, field: string): Json | undefined {
  if (!Array.isArray(list)) return undefined;
  const e = list.find((x) => isObj(x) && x.name === name);
  return isObj(e) && isObj(e[field]) ? (e[field] as Json) : undefined;
}

export interface KubeconfigFindings {
  results: CheckResult[];
  /** The API server of the current context, when one was found. */
  server?: URL;
}

export function checkKubeconfigText(text: string, source: string, now = Date.now()): KubeconfigFindings {
  const results: CheckResult[] = [];
  let cfg: unknown;
  try {
    cfg = parse(text);
  } catch (err) {
    results.push(fail(CAT, 'kubeconfig parses', `${source}: ${(err as Error).message.split('\n')[0]}`, 'fix the YAML, or point --kubeconfig at another file'));
    return { results };
  }
  if (!isObj(cfg) || cfg.kind !== 'Config') {
    results.push(fail(CAT, 'kubeconfig parses', `${source}: not a kubeconfig (kind: Config)`, 'point --kubeconfig at a kubeconfig file'));
    return { results };
  }
  results.push(ok(CAT, 'kubeconfig parses'));
  const current = typeof cfg['current-context'] === 'string' ? cfg['current-context'] : '';
  const ctx = current ? named(cfg.contexts, current, 'context') : undefined;
  if (!ctx) {
    results.push(fail(CAT, 'kubeconfig has a current context', current ? `context "${current}" is not defined` : 'current-context is not set', 'kubectl config use-context NAME'));
    return { results };
  }
  results.push(ok(CAT, `kubeconfig has a current context (${current})`));
  const clusterName = String(ctx.cluster ?? '');
  const cluster = named(cfg.clusters, clusterName, 'cluster');
  let server: URL | undefined;
  if (!cluster || typeof cluster.server !== 'string') {
    results.push(fail(CAT, 'current cluster has an API server address', `cluster "${clusterName}" is not defined or has no server`, 'kubectl config set-cluster NAME --server https://...'));
  } else {
    try {
      server = new URL(cluster.server);
      results.push(
        server.protocol === 'https:'
          ? ok(CAT, `current cluster has an API server address (${server.host})`)
          : warn(CAT, 'API server is reached over HTTPS', `${cluster.server} is not https`, 'use the API server\'s https address'),
      );
    } catch {
      results.push(fail(CAT, 'current cluster has an API server address', `"${cluster.server}" is not a URL`, 'fix clusters[].cluster.server'));
    }
    if (cluster['insecure-skip-tls-verify'] === true) {
      results.push(warn(CAT, 'API server certificate is verified', 'insecure-skip-tls-verify is set', 'give certificate-authority-data instead'));
    } else if (typeof cluster['certificate-authority-data'] === 'string') {
      try {
        const ca = new X509Certificate(Buffer.from(cluster['certificate-authority-data'], 'base64'));
        const to = new Date(ca.validTo).getTime();
        results.push(to <= now ? fail(CAT, 'cluster CA certificate is valid', `expired at ${ca.validTo}`, 'get a current kubeconfig from your cluster admin') : ok(CAT, 'cluster CA certificate is valid'));
      } catch (err) {
        results.push(fail(CAT, 'cluster CA certificate is valid', `certificate-authority-data does not parse: ${(err as Error).message}`, 'get a current kubeconfig'));
      }
    }
  }
  const userName = String(ctx.user ?? '');
  const user = named(cfg.users, userName, 'user');
  const hasCred = user && ['token', 'tokenFile', 'client-certificate-data', 'client-certificate', 'exec', 'auth-provider', 'username'].some((k) => user[k] !== undefined);
  results.push(hasCred ? ok(CAT, `current user has credentials (${userName})`) : fail(CAT, 'current user has credentials', `user "${userName}" is not defined or has no token, certificate or exec plugin`, 'kubectl config set-credentials'));
  return { results, server };
}

/** Can we open a TCP connection to the API server? (Not a proof it answers, but a cheap first step.) */
export function checkApiReachable(server: URL, timeoutMs = 2000): Promise<CheckResult> {
  const port = Number(server.port || (server.protocol === 'https:' ? 443 : 80));
  const host = server.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (r: CheckResult) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done(fail(CAT, 'API server is reachable', `${host}:${port}: no answer within ${timeoutMs}ms`, 'check the network path (VPN, firewall) to the cluster')));
    sock.once('connect', () => done(ok(CAT, `API server is reachable (${host}:${port})`)));
    sock.once('error', (err) => done(fail(CAT, 'API server is reachable', `${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, 'check the network path to the cluster and the server address')));
  });
}
