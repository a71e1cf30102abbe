/** `linnet inject --serve`: the injector webhook as its own process (the Deployment `linnet install` prints). */
import { readFileSync, statSync } from 'node:fs';
import type { DefaultPolicy } from '../../core/policy/model';
import { InjectError } from './errors';
import type { FormDefault } from './form';
import { inClusterApi, kubeNamespaceLookup } from './kube-namespaces';
import { kubeVersionLookup } from './kube-version';
import { createInjectorServer } from './webhook';

export interface ServeOptions {
  listen: string;
  certFile: string | undefined;
  keyFile: string | undefined;
  image?: string;
  version?: string;
  controlPlaneNamespace?: string;
  trustDomain?: string;
  trustAnchorsPem?: string;
  nativeSidecarDefault?: FormDefault;
  defaultInboundPolicy?: DefaultPolicy;
  /** The file the anchors came from: re-read when it changes (the ConfigMap mount is updated in place). */
  trustAnchorsFile?: string;
}

export async function serveWebhook(o: ServeOptions): Promise<number> {
  if (!o.certFile || !o.keyFile) {
    throw new InjectError('LINNET_INJECT_TLS', '--serve needs --tls-cert and --tls-key', { hint: 'mount the linnet-proxy-injector-k8s-tls Secret and pass its tls.crt and tls.key' });
  }
  const m = /^(.*):(\d+)$/.exec(o.listen);
  if (!m) throw new InjectError('LINNET_INJECT_INPUT', `--listen ${o.listen} is not HOST:PORT`, { hint: 'e.g. 0.0.0.0:8443' });
  let cert: Buffer, key: Buffer;
  try {
    cert = readFileSync(o.certFile);
    key = readFileSync(o.keyFile);
  } catch (err) {
    throw new InjectError('LINNET_INJECT_TLS', `cannot read the TLS certificate or key: ${(err as Error).message}`, { hint: 'check --tls-cert and --tls-key', cause: err });
  }
  const { certFile: _c, keyFile: _k, listen: _l, trustAnchorsFile, ...rest } = o;
  void _c, _k, _l;
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  // The bundle changes during an anchor rotation; a stat per review keeps new pods current.
  let cached = { mtimeMs: -1, text: o.trustAnchorsPem };
  const trustAnchors = trustAnchorsFile
    ? () => {
        try {
          const st = statSync(trustAnchorsFile);
          if (st.mtimeMs !== cached.mtimeMs) cached = { mtimeMs: st.mtimeMs, text: readFileSync(trustAnchorsFile, 'utf8') };
        } catch {
          /* keep the last bundle read */
        }
        return cached.text;
      }
    : undefined;
  const server = createInjectorServer({
    ...rest,
    ...(trustAnchors ? { trustAnchors } : {}),
    cert,
    key,
    namespaceAnnotations: kubeNamespaceLookup(() => inClusterApi()),
    // Only `auto` depends on the version; a fixed default does not need to ask.
    serverVersion: (o.nativeSidecarDefault ?? 'auto') === 'auto' ? kubeVersionLookup(() => inClusterApi(), { onError: (e) => log(`API server version unknown (${e.message}); classic sidecars until it answers`) }) : undefined,
    log,
  });
  const host = m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), host, () => resolve());
  });
  process.stderr.write(`linnet-proxy-injector listening on https://${o.listen}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
