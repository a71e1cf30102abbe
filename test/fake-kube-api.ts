/**
 * A small but real Kubernetes API server for tests: HTTPS with a self-signed certificate (made
 * with the openssl CLI), bearer-token auth, and list + watch for Services, EndpointSlices and Pods
 * in the real JSON shapes (List objects with metadata.resourceVersion; watch streams of
 * newline-delimited {type, object} with ADDED, MODIFIED, DELETED, BOOKMARK and ERROR 410 Gone).
 * It keeps one resourceVersion counter like etcd; `compact()` expires old versions so a watch
 * resuming from one gets 410 and the client must relist.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Kind =
  | 'services'
  | 'endpointslices'
  | 'pods'
  // The policy source's kinds: namespaces and Linkerd's policy resources (and Gateway API routes).
  | 'namespaces'
  | 'servers'
  | 'authorizationpolicies'
  | 'meshtlsauthentications'
  | 'networkauthentications'
  | 'httplocalratelimitpolicies'
  | 'httproutes'
  | 'gatewayhttproutes'
  | 'grpcroutes';
const PATHS: Record<string, Kind> = {
  '/api/v1/services': 'services',
  '/apis/discovery.k8s.io/v1/endpointslices': 'endpointslices',
  '/api/v1/pods': 'pods',
  '/api/v1/namespaces': 'namespaces',
  '/apis/policy.linkerd.io/v1beta3/servers': 'servers',
  '/apis/policy.linkerd.io/v1alpha1/authorizationpolicies': 'authorizationpolicies',
  '/apis/policy.linkerd.io/v1alpha1/meshtlsauthentications': 'meshtlsauthentications',
  '/apis/policy.linkerd.io/v1alpha1/networkauthentications': 'networkauthentications',
  '/apis/policy.linkerd.io/v1alpha1/httplocalratelimitpolicies': 'httplocalratelimitpolicies',
  '/apis/policy.linkerd.io/v1beta3/httproutes': 'httproutes',
  '/apis/gateway.networking.k8s.io/v1/httproutes': 'gatewayhttproutes',
  '/apis/gateway.networking.k8s.io/v1/grpcroutes': 'grpcroutes',
};
const LIST_KIND: Record<Kind, [string, string]> = {
  services: ['ServiceList', 'v1'],
  endpointslices: ['EndpointSliceList', 'discovery.k8s.io/v1'],
  pods: ['PodList', 'v1'],
  namespaces: ['NamespaceList', 'v1'],
  servers: ['ServerList', 'policy.linkerd.io/v1beta3'],
  authorizationpolicies: ['AuthorizationPolicyList', 'policy.linkerd.io/v1alpha1'],
  meshtlsauthentications: ['MeshTLSAuthenticationList', 'policy.linkerd.io/v1alpha1'],
  networkauthentications: ['NetworkAuthenticationList', 'policy.linkerd.io/v1alpha1'],
  httplocalratelimitpolicies: ['HTTPLocalRateLimitPolicyList', 'policy.linkerd.io/v1alpha1'],
  httproutes: ['HTTPRouteList', 'policy.linkerd.io/v1beta3'],
  gatewayhttproutes: ['HTTPRouteList', 'gateway.networking.k8s.io/v1'],
  grpcroutes: ['GRPCRouteList', 'gateway.networking.k8s.io/v1'],
};
const KINDS = Object.keys(LIST_KIND) as Kind[];
const perKind = <T>(make: () => T): Record<Kind, T> => Object.fromEntries(KINDS.map((k) => [k, make()])) as Record<Kind, T>;

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };
interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

export interface FakeKubeApi {
  url: string;
  caPem: string;
  token: string;
  /** Writes a kubeconfig pointing at this server; returns its path. */
  writeKubeconfig(dir: string): string;
  /** Creates or updates an object and sends ADDED/MODIFIED to watchers. */
  apply(kind: Kind, obj: Obj): void;
  remove(kind: Kind, namespace: string, name: string): void;
  /** Changes the store without telling watchers (events the client will only see by relisting). */
  applySilently(kind: Kind, obj: Obj): void;
  bookmark(kind: Kind): void;
  /** Expires every resourceVersion older than the newest: resuming from one gets 410 Gone. */
  compact(): void;
  /** Ends every open watch response, as an API server does on its own watch timeout. */
  dropWatches(): void;
  /** Next watch request on `kind` is answered with HTTP 410 instead of an ERROR event. */
  goneByStatusOnce(kind: Kind): void;
  /**
   * Namespaced Secrets and ConfigMaps (GET, POST create-if-absent with 409 AlreadyExists, PUT
   * with a resourceVersion check answering 409 Conflict) and MutatingWebhookConfigurations (GET,
   * POST, JSON patch), as the identity bootstrap and rotation use them. Keyed `secrets/ns/name`,
   * `configmaps/ns/name`, `mutatingwebhookconfigurations//name`.
   */
  objects: Map<string, Obj>;
  /** Writes per method and the 409s answered, for the race tests. */
  writes: { POST: number; PUT: number; PATCH: number; conflicts: number };
  /** Counts of list and watch requests per kind. */
  requests: Record<Kind, { list: number; watch: number; unauthorized: number }>;
  /** Stops listening and cuts every connection (an API server outage); the store is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const dir = mkdtempSync(join(tmpdir(), 'linnet-kapi-'));
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  const caPem = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  rmSync(dir, { recursive: true, force: true });

  const token = 'fake-token-' + Math.random().toString(36).slice(2);
  let rv = 100;
  let compactedBelow = 0;
  const store = perKind(() => new Map<string, Obj>());
  const events = perKind((): Event[] => []);
  const watchers = perKind(() => new Set<ServerResponse>());
  const goneOnce = new Set<Kind>();
  const requests = perKind(() => ({ list: 0, watch: 0, unauthorized: 0 }));
  const keyOf = (o: Obj) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const send = (res: ServerResponse, type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
  const stamp = (o: Obj): Obj => {
    const copy = structuredClone(o);
    copy.metadata.resourceVersion = String(++rv);
    return copy;
  };

  const objects = new Map<string, Obj>();
  const writes = { POST: 0, PUT: 0, PATCH: 0, conflicts: 0 };
  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }));
  };
  const json = (res: ServerResponse, code: number, obj: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  /** The object API: answers and returns true when the path is one of its kinds. */
  const objectApi = (req: import('node:http').IncomingMessage, res: ServerResponse, path: string): boolean => {
    const m =
      /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps)(?:\/([^/]+))?$/.exec(path) ??
      /^\/apis\/admissionregistration\.k8s\.io\/v1\/()(mutatingwebhookconfigurations)(?:\/([^/]+))?$/.exec(path);
    if (!m) return false;
    const [, ns, kind, name] = m as unknown as [string, string, string, string | undefined];
    if (req.headers.authorization !== `Bearer ${token}`) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      if (method === 'POST') {
        writes.POST++;
        const k = `${kind}/${ns}/${body.metadata.name}`;
        if (objects.has(k)) {
          writes.conflicts++;
          return status(res, 409, 'AlreadyExists', `${kind} "${body.metadata.name}" already exists`);
        }
        const o = stamp({ ...body, metadata: { ...body.metadata, ...(ns ? { namespace: ns } : {}) } });
        objects.set(k, o);
        return json(res, 201, o);
      }
      const k = `${kind}/${ns}/${name}`;
      const existing = objects.get(k);
      if (!existing) return status(res, 404, 'NotFound', `${kind} "${name}" not found`);
      if (method === 'GET') return json(res, 200, existing);
      if (method === 'PUT') {
        writes.PUT++;
        if (body.metadata.resourceVersion !== existing.metadata.resourceVersion) {
          writes.conflicts++;
          return status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        const o = stamp(body);
        objects.set(k, o);
        return json(res, 200, o);
      }
      if (method === 'PATCH' && req.headers['content-type'] === 'application/json-patch+json') {
        writes.PATCH++;
        const o = structuredClone(existing) as Record<string, unknown>;
        for (const op of body as { op: string; path: string; value: unknown }[]) {
          const parts = op.path.split('/').slice(1);
          let at: Record<string, unknown> = o;
          for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
          at[parts[parts.length - 1]!] = op.value;
        }
        const stamped = stamp(o as Obj);
        objects.set(k, stamped);
        return json(res, 200, stamped);
      }
      status(res, 405, 'MethodNotAllowed', method);
    });
    return true;
  };

  const server: Server = createServer({ key, cert: caPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (objectApi(req, res, url.pathname)) return;
    const kind = PATHS[url.pathname];
    if (!kind) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      requests[kind].unauthorized++;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
      return;
    }
    if (url.searchParams.get('watch') !== 'true') {
      requests[kind].list++;
      const [listKind, apiVersion] = LIST_KIND[kind];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: listKind, apiVersion, metadata: { resourceVersion: String(rv) }, items: [...store[kind].values()] }));
      return;
    }
    requests[kind].watch++;
    const from = Number(url.searchParams.get('resourceVersion') || '0');
    if (goneOnce.delete(kind)) {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', message: 'too old resource version', code: 410 }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A real API server answers a watch with headers at once, before any event.
    res.flushHeaders();
    if (from < compactedBelow) {
      // What a real API server does: 200, then one ERROR event carrying a 410 Status, then end.
      send(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from}`, reason: 'Expired', code: 410 });
      res.end();
      return;
    }
    for (const e of events[kind]) if (e.rv > from) send(res, e.type, e.object);
    watchers[kind].add(res);
    res.on('close', () => watchers[kind].delete(res));
  });
  // Every raw socket, including those still in their TLS handshake, which closeAllConnections()
  // does not know about: a client reconnecting while we stop would otherwise hold close() open.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  let listening = true;
  const stop = () =>
    new Promise<void>((ok) => {
      if (!listening) return ok();
      listening = false;
      for (const k of Object.keys(watchers) as Kind[]) {
        for (const w of watchers[k]) w.destroy();
        watchers[k].clear();
      }
      server.close(() => ok());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });

  const emit = (kind: Kind, type: Event['type'], object: Obj) => {
    events[kind].push({ rv, type, object });
    for (const w of watchers[kind]) send(w, type, object);
  };

  return {
    url,
    caPem,
    token,
    requests,
    objects,
    writes,
    writeKubeconfig(d: string): string {
      const p = join(d, 'kubeconfig');
      writeFileSync(
        p,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: fake',
          '  cluster:',
          `    server: ${url}`,
          `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
          'users:',
          '- name: tester',
          '  user:',
          `    token: ${token}`,
          'contexts:',
          '- name: fake',
          '  context: { cluster: fake, user: tester }',
          'current-context: fake',
          '',
        ].join('\n'),
      );
      return p;
    },
    apply(kind, obj) {
      const o = stamp(obj);
      const existed = store[kind].has(keyOf(o));
      store[kind].set(keyOf(o), o);
      emit(kind, existed ? 'MODIFIED' : 'ADDED', o);
    },
    remove(kind, namespace, name) {
      const k = `${namespace}/${name}`;
      const old = store[kind].get(k);
      if (!old) return;
      store[kind].delete(k);
      const o = stamp(old);
      emit(kind, 'DELETED', o);
    },
    applySilently(kind, obj) {
      const o = stamp(obj);
      store[kind].set(keyOf(o), o);
    },
    bookmark(kind) {
      const [listKind, apiVersion] = LIST_KIND[kind];
      for (const w of watchers[kind]) send(w, 'BOOKMARK', { kind: listKind.replace(/List$/, ''), apiVersion, metadata: { resourceVersion: String(rv) } });
    },
    compact() {
      compactedBelow = rv;
      for (const k of Object.keys(events) as Kind[]) events[k] = [];
    },
    dropWatches() {
      for (const k of Object.keys(watchers) as Kind[]) {
        for (const w of watchers[k]) w.end();
        watchers[k].clear();
      }
    },
    goneByStatusOnce(kind) {
      goneOnce.add(kind);
    },
    stop,
    start: () =>
      new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', fail);
          listening = true;
          ok();
        });
      }),
    close: stop,
  };
}
