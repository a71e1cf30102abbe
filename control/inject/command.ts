/**
 * `linnet inject`: manifests in (files, folders, `-`), injected manifests on stdout, one report
 * line per object on stderr. `--serve` runs the admission webhook instead.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../../core/command';
import { DEFAULT_POLICIES, isDefaultPolicy, type DefaultPolicy } from '../../core/policy/model';
import { InjectError } from './errors';
import { readSources, transformSources } from './manifest-stream';
import type { FormDefault } from './form';
import { formatReport, injectObject } from './transform';
import { linnetVersion } from './version';

const USAGE = `usage: linnet inject [options] FILE|DIR|- ...
       linnet inject --serve --tls-cert FILE --tls-key FILE [--listen HOST:PORT] [options]

Adds the Linnet sidecar to the workloads in Kubernetes manifests (YAML or JSON, multi-document
streams and kind: List; folders are read recursively; - is stdin). Output goes to stdout, a report
line per object to stderr, so that

  kubectl get deploy -o yaml | linnet inject - | kubectl apply -f -

works. By default only the annotation linnet.io/inject: enabled is added to each pod template
and the cluster's proxy-injector webhook does the rest; --manual renders the whole sidecar.
Kinds: Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob;
Services get only their config.linnet.io/opaque-ports annotation; other kinds pass through.

options:
  --manual                            render the init and proxy containers here
  --identity-trust-anchors-file FILE  trust anchors (PEM) for --manual and --serve (without them
                                      the proxy runs without identity and a warning is printed)
  --proxy-image IMAGE                 default ghcr.io/linnet/proxy
  --proxy-version TAG                 default ${linnetVersion()}
  --control-plane-namespace NS        default linnet
  --trust-domain DOMAIN               default cluster.local
  --native-sidecar auto|enabled|disabled
                                      the sidecar's form when the pod has no
                                      config.linnet.io/proxy-enable-native-sidecar annotation:
                                      enabled = native sidecar (an init container with
                                      restartPolicy: Always, Kubernetes 1.29+), disabled = the
                                      classic container; auto (default) = native when the API
                                      server is 1.29 or newer (--serve asks it GET /version),
                                      else classic (--manual without a cluster: classic)
  --default-inbound-policy P          the proxy's default inbound policy when neither the pod nor its
                                      namespace has config.linnet.io/default-inbound-policy:
                                      all-unauthenticated, all-authenticated, cluster-authenticated,
                                      cluster-unauthenticated, deny or audit (unset: the proxy's own,
                                      all-unauthenticated)
  --serve                             run the admission webhook (HTTPS, AdmissionReview v1/v1beta1)
  --listen HOST:PORT                  webhook address, default 0.0.0.0:8443
  --tls-cert FILE, --tls-key FILE     the webhook's serving certificate and key (PEM)
`;

function readStdin(): string {
  return readFileSync(0, 'utf8');
}

function readTrustAnchors(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InjectError('LINNET_INJECT_INPUT', `cannot read trust anchors ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'give the trust anchor PEM file (ca.crt from `linnet identity create`)',
      cause: err,
    });
  }
}

export const OPTIONS = {
  'identity-trust-anchors-file': { type: 'string' },
  'proxy-image': { type: 'string' },
  'proxy-version': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'trust-domain': { type: 'string' },
  'native-sidecar': { type: 'string', default: 'auto' },
  'default-inbound-policy': { type: 'string' },
} as const;

function parseDefaultPolicyFlag(v: string | undefined): DefaultPolicy | undefined {
  if (v === undefined || isDefaultPolicy(v)) return v;
  throw new InjectError('LINNET_INJECT_INPUT', `--default-inbound-policy ${v} is not a default inbound policy`, { hint: `use one of ${DEFAULT_POLICIES.join(', ')}` });
}

function parseFormDefault(v: string | undefined): FormDefault {
  if (v === undefined || v === 'auto' || v === 'enabled' || v === 'disabled') return v ?? 'auto';
  throw new InjectError('LINNET_INJECT_INPUT', `--native-sidecar ${v} is not auto, enabled or disabled`, { hint: 'use --native-sidecar auto, enabled or disabled' });
}

export const command: Command = {
  summary: 'add the Linnet sidecar to Kubernetes manifests (or --serve the injector webhook)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...OPTIONS,
          manual: { type: 'boolean', default: false },
          serve: { type: 'boolean', default: false },
          listen: { type: 'string', default: '0.0.0.0:8443' },
          'tls-cert': { type: 'string' },
          'tls-key': { type: 'string' },
        },
      });
    } catch (err) {
      process.stderr.write(`linnet inject: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const { values, positionals } = parsed;
    const common = {
      image: values['proxy-image'],
      version: values['proxy-version'],
      controlPlaneNamespace: values['control-plane-namespace'],
      trustDomain: values['trust-domain'],
      trustAnchorsPem: readTrustAnchors(values['identity-trust-anchors-file']),
      nativeSidecarDefault: parseFormDefault(values['native-sidecar']),
      defaultInboundPolicy: parseDefaultPolicyFlag(values['default-inbound-policy']),
    };
    if (values.serve) {
      const { serveWebhook } = await import('./webhook-serve');
      return serveWebhook({ listen: values.listen!, certFile: values['tls-cert'], keyFile: values['tls-key'], ...common, ...(values['identity-trust-anchors-file'] ? { trustAnchorsFile: values['identity-trust-anchors-file'] } : {}) });
    }
    if (positionals.length === 0) {
      process.stderr.write(`linnet inject: give at least one file, folder or - (stdin)\n\n${USAGE}`);
      return 2;
    }
    const result = transformSources(readSources(positionals, readStdin), (obj, ctx) => {
      const meta = (obj.metadata ?? {}) as { namespace?: string };
      return injectObject(obj, {
        ...common,
        manual: values.manual!,
        namespaceAnnotations: meta.namespace ? ctx.namespaceAnnotations[meta.namespace] : undefined,
        createdBy: `linnet/cli ${linnetVersion()}`,
      });
    });
    process.stdout.write(result.output);
    const lines: string[] = [];
    for (const r of result.reports) {
      if (r.status === 'passthrough' || (r.kind === 'Service' && r.status === 'unchanged')) continue;
      lines.push(formatReport(r));
      for (const w of r.warnings) lines.push(`  warning: ${w}`);
    }
    if (lines.length > 0) process.stderr.write(lines.join('\n') + '\n');
    return 0;
  },
};
