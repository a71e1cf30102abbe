/**
 * The proxy-injector admission webhook: AdmissionReview (v1 and v1beta1) in, a JSONPatch of the
 * transform's result out. A request it cannot handle is allowed unchanged with a warning: the
 * webhook must never be the reason a pod cannot start (its failurePolicy is Ignore as well).
 * `handleAdmissionReview` is pure apart from the namespace lookup; `createInjectorServer` wraps
 * it in HTTPS so that `linnet control` (or `linnet inject --serve`) can mount it.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InjectError } from './errors';
import { createPatch } from './json-patch';
import { injectObject, isObject, type InjectOptions, type Json } from './transform';
import { linnetVersion } from './version';
import type { VersionLookup } from './kube-version';

export type NamespaceLookup = (namespace: string) => Promise<Record<string, string>>;

export interface InjectorConfig extends Omit<InjectOptions, 'manual' | 'namespaceAnnotations' | 'requireOptIn' | 'namespace' | 'owner'> {
  /** A namespace's annotations; a failing lookup is a warning, and the pod's own annotations still count. */
  namespaceAnnotations: NamespaceLookup;
  /** The API server's version (cached GET /version); absent or failing: the form does not depend on it. */
  serverVersion?: VersionLookup;
}

const API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];

interface Outcome {
  review: Json;
  /** What happened, for the log: injected / skipped: reason / ignored: reason. */
  summary: string;
}

function respond(apiVersion: string, uid: string, extra: Json = {}): Json {
  return { apiVersion, kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } };
}

/** One AdmissionReview (already parsed JSON) → the AdmissionReview to send back. Never throws. */
export async function handleAdmissionReview(body: unknown, config: InjectorConfig): Promise<Outcome> {
  const apiVersion = isObject(body) && typeof body.apiVersion === 'string' && API_VERSIONS.includes(body.apiVersion) ? body.apiVersion : 'admission.k8s.io/v1';
  const request = isObject(body) && isObject(body.request) ? body.request : undefined;
  const uid = request && typeof request.uid === 'string' ? request.uid : '';
  const ignore = (why: string, warn = true): Outcome => ({
    review: respond(apiVersion, uid, warn ? { warnings: [`linnet-proxy-injector: ${why}; the pod was admitted without the proxy`] } : {}),
    summary: `ignored: ${why}`,
  });
  if (!isObject(body) || body.kind !== 'AdmissionReview' || !API_VERSIONS.includes(String(body.apiVersion))) {
    return ignore(`not an AdmissionReview of ${API_VERSIONS.join(' or ')}`);
  }
  if (!request || uid === '') return ignore('the AdmissionReview has no request.uid');
  const kind = isObject(request.kind) ? request.kind : {};
  if (kind.kind !== 'Pod' || (kind.group !== undefined && kind.group !== '')) return ignore(`not a Pod (${String(kind.kind)})`, false);
  if (request.operation !== undefined && request.operation !== 'CREATE') return ignore(`operation ${String(request.operation)}`, false);
  // A dry run (request.dryRun) gets the patch too: `kubectl apply --dry-run=server` shows the injection.
  const pod = request.object;
  if (!isObject(pod)) return ignore('the request has no Pod object');

  const meta = isObject(pod.metadata) ? pod.metadata : {};
  const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace : typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const warnings: string[] = [];
  let nsAnnotations: Record<string, string> = {};
  try {
    nsAnnotations = await config.namespaceAnnotations(namespace);
  } catch (err) {
    warnings.push(`linnet-proxy-injector: namespace ${namespace} could not be read (${err instanceof Error ? err.message : String(err)}); only the pod's annotations were used`);
  }
  const owners = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObject) : [];
  const controller = owners.find((o) => o.controller === true) ?? owners[0];
  const owner = controller && typeof controller.kind === 'string' && typeof controller.name === 'string' ? { kind: controller.kind, name: controller.name } : undefined;

  // Asked only for pods, and cached by the lookup; a failure yields undefined, never an error.
  const kubernetesVersion = config.serverVersion ? await config.serverVersion().catch(() => undefined) : undefined;
  const { namespaceAnnotations: _lookup, serverVersion: _version, ...injectConfig } = config;
  void _lookup, _version;
  try {
    const result = injectObject({ apiVersion: 'v1', kind: 'Pod', ...pod }, {
      ...injectConfig,
      manual: true,
      requireOptIn: true,
      namespaceAnnotations: nsAnnotations,
      namespace,
      owner,
      kubernetesVersion,
      createdBy: config.createdBy ?? `linnet/proxy-injector ${linnetVersion()}`,
    });
    warnings.push(...result.report.warnings.map((w) => `linnet-proxy-injector: ${w}`));
    const extra: Json = warnings.length ? { warnings } : {};
    if (!result.changed) {
      return { review: respond(apiVersion, uid, extra), summary: `skipped: ${result.report.reason ?? 'nothing to do'}` };
    }
    const patch = createPatch({ apiVersion: 'v1', kind: 'Pod', ...pod }, result.object);
    extra.patchType = 'JSONPatch';
    extra.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
    return { review: respond(apiVersion, uid, extra), summary: 'injected' };
  } catch (err) {
    const why = err instanceof InjectError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
    return { review: respond(apiVersion, uid, { warnings: [...warnings, `linnet-proxy-injector: ${why}; the pod was admitted without the proxy`] }), summary: `ignored: ${why}` };
  }
}

/** The API server sends at most 3 MiB; anything bigger is not a real review. */
const MAX_BODY = 3 * 1024 * 1024 + 64 * 1024;

export interface InjectorServerOptions extends InjectorConfig {
  cert: string | Buffer;
  key: string | Buffer;
  /** Called once per review with its outcome; defaults to nothing (the caller chooses its logger). */
  log?: (line: string) => void;
  /** The trust bundle now (re-read per review): after an anchor rotation new pods get the new one. */
  trustAnchors?: () => string | undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An HTTPS server (not yet listening) serving POST /inject (and /), GET /live and /ready. TLS 1.2+. */
export function createInjectorServer(options: InjectorServerOptions): Server {
  const { cert, key, log, trustAnchors, ...config } = options;
  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/live' || path === '/ready')) return send(200, 'ok\n');
    if (req.method !== 'POST' || (path !== '/inject' && path !== '/')) return send(404, 'not found\n');
    readBody(req).then(
      async (buf) => {
        let body: unknown;
        try {
          body = buf === undefined ? undefined : JSON.parse(buf.toString('utf8'));
        } catch {
          body = undefined;
        }
        const outcome = await handleAdmissionReview(body, trustAnchors ? { ...config, trustAnchorsPem: trustAnchors() ?? config.trustAnchorsPem } : config);
        log?.(`admission ${String((outcome.review.response as Json).uid) || '-'}: ${outcome.summary}`);
        send(200, outcome.review);
      },
      () => res.destroy(),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}
