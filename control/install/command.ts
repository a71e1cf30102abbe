/** `linnet install`: prints every control-plane manifest, for `kubectl apply -f -` or a GitOps repository. */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { Command } from '../../core/command';
import { DEFAULT_POLICIES, isDefaultPolicy } from '../../core/policy/model';
import { DEFAULT_IMAGE } from '../inject/sidecar';
import { linnetVersion } from '../inject/version';
import { identityCerts } from './certs';
import { crdProblems, policyCrds } from './crds';
import { InstallError } from './errors';
import { NAMES, installManifests } from './manifests';
import { describeProblems, validateObject } from './validate';

const USAGE = `usage: linnet install --crds | kubectl apply -f -      (first: the policy CRDs)
       linnet install [options] | kubectl apply -f -

--crds prints only the CustomResourceDefinitions of the policy.linkerd.io kinds Linnet reads
(Server, AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication,
HTTPLocalRateLimitPolicy, HTTPRoute), as \`linkerd install --crds\` does; apply them before the
control plane. Gateway API's own CRDs (gateway.networking.k8s.io HTTPRoute, GRPCRoute) are not
Linnet's: install them from the Gateway API's standard-install release, as Linkerd 2.17+
expects (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/
<version>/standard-install.yaml). Only -o applies with --crds.

Prints the control plane's manifests: the namespace, service accounts, RBAC (incl. TokenReview),
the linnet-control (destination + identity) and linnet-proxy-injector Deployments and Services,
the MutatingWebhookConfiguration. By default it holds no key and prints the same bytes every
time: on first start the control plane creates the trust anchor (1 year, Secret
linnet-trust-anchor), an issuer it renews itself (7 days, Secret linnet-identity-issuer), the
bundle ConfigMap linnet-identity-trust-roots and the webhook's serving certificate. Given files
are printed into that ConfigMap and issuer Secret instead (the control plane then takes a new
issuer written into the Secret live).

options:
  --crds                                   print only the policy CRDs (see above)
  --identity-trust-anchors-file FILE       trust anchors (PEM), e.g. ca.crt of \`linnet identity create\`
  --identity-issuer-certificate-file FILE  issuer certificate (PEM), signed by an anchor
  --identity-issuer-key-file FILE          issuer private key (PEM)
  --identity-external-issuer               cert-manager makes and renews the issuer from the anchor
                                           (Secret ${NAMES.anchorSecret} in the namespace, type
                                           kubernetes.io/tls); no issuer key in the output
  --namespace NS                           control-plane namespace, default linnet
  --trust-domain DOMAIN                    default cluster.local
  --image IMAGE                            default ${DEFAULT_IMAGE}
  --version TAG                            default ${linnetVersion()}
  --replicas N                             control-plane replicas, default 1
  --native-sidecar auto|enabled|disabled   the injector's default sidecar form (a pod's
                                           config.linnet.io/proxy-enable-native-sidecar wins);
                                           auto (default): native when the API server is 1.29+
  --default-inbound-policy P               what a proxy allows where no Server names the port
                                           (a pod's or namespace's
                                           config.linnet.io/default-inbound-policy wins):
                                           all-unauthenticated (default), all-authenticated,
                                           cluster-authenticated, cluster-unauthenticated, deny,
                                           audit
  -o, --output yaml|json                   default yaml
`;

function render(objects: Record<string, unknown>[], output: 'yaml' | 'json'): string {
  return output === 'json'
    ? JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2) + '\n'
    : objects.map((o) => '---\n' + stringify(o, { lineWidth: 0 })).join('');
}

export const command: Command = {
  summary: 'print the control plane manifests (kubectl apply -f -)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let values;
    let given: string[];
    try {
      const parsed = parseArgs({
        args,
        tokens: true,
        options: {
          crds: { type: 'boolean', default: false },
          'identity-trust-anchors-file': { type: 'string' },
          'identity-issuer-certificate-file': { type: 'string' },
          'identity-issuer-key-file': { type: 'string' },
          'identity-external-issuer': { type: 'boolean', default: false },
          namespace: { type: 'string', default: 'linnet' },
          'trust-domain': { type: 'string', default: 'cluster.local' },
          image: { type: 'string', default: DEFAULT_IMAGE },
          version: { type: 'string', default: linnetVersion() },
          replicas: { type: 'string', default: '1' },
          'native-sidecar': { type: 'string', default: 'auto' },
          'default-inbound-policy': { type: 'string' },
          output: { type: 'string', short: 'o', default: 'yaml' },
        },
      });
      values = parsed.values;
      given = parsed.tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : []));
    } catch (err) {
      process.stderr.write(`linnet install: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (values.crds) {
      // The CRDs are cluster-wide and the same for every install: a control-plane flag beside
      // --crds would be silently ignored, so say so instead.
      const stray = [...new Set(given.filter((n) => n !== 'crds' && n !== 'output'))];
      if (stray.length > 0) {
        process.stderr.write(`linnet install: --crds prints only the policy CRDs; ${stray.map((n) => `--${n}`).join(', ')} ${stray.length === 1 ? 'does' : 'do'} not apply to it (run \`linnet install\` without --crds for the control plane)\n`);
        return 2;
      }
      if (values.output !== 'yaml' && values.output !== 'json') throw new InstallError('LINNET_INSTALL_INPUT', `--output ${values.output}`, { hint: 'use yaml or json' });
      const crds = policyCrds();
      const problems = crds.flatMap((o) => [...describeProblems(o, validateObject(o)), ...crdProblems(o)]);
      if (problems.length > 0) throw new InstallError('LINNET_INSTALL_INVALID', problems.join('; '), { hint: 'this is a bug in linnet install; please report it' });
      process.stdout.write(render(crds, values.output));
      return 0;
    }
    const replicas = Number(values.replicas);
    if (!Number.isInteger(replicas) || replicas < 1) throw new InstallError('LINNET_INSTALL_INPUT', `--replicas ${values.replicas} is not a positive whole number`, { hint: 'e.g. --replicas 3' });
    if (values.output !== 'yaml' && values.output !== 'json') throw new InstallError('LINNET_INSTALL_INPUT', `--output ${values.output}`, { hint: 'use yaml or json' });
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.namespace!)) throw new InstallError('LINNET_INSTALL_INPUT', `--namespace ${values.namespace} is not a namespace name`, { hint: 'lower-case letters, digits and -' });
    const nativeSidecar = values['native-sidecar']!;
    if (nativeSidecar !== 'auto' && nativeSidecar !== 'enabled' && nativeSidecar !== 'disabled') {
      throw new InstallError('LINNET_INSTALL_INPUT', `--native-sidecar ${nativeSidecar} is not auto, enabled or disabled`, { hint: 'use --native-sidecar auto, enabled or disabled' });
    }
    const dip = values['default-inbound-policy'];
    if (dip !== undefined && !isDefaultPolicy(dip)) {
      throw new InstallError('LINNET_INSTALL_INPUT', `--default-inbound-policy ${dip} is not a default inbound policy`, { hint: `use one of ${DEFAULT_POLICIES.join(', ')}` });
    }
    const external = values['identity-external-issuer']!;
    const identity = await identityCerts(
      { anchorsFile: values['identity-trust-anchors-file'], issuerCertFile: values['identity-issuer-certificate-file'], issuerKeyFile: values['identity-issuer-key-file'] },
      { externalIssuer: external, trustDomain: values['trust-domain']!, controlPlaneNamespace: values.namespace! },
    );
    const objects = installManifests({
      namespace: values.namespace!,
      trustDomain: values['trust-domain']!,
      version: values.version!,
      image: values.image!,
      identity,
      externalIssuer: external,
      controlReplicas: replicas,
      nativeSidecar,
      ...(dip !== undefined ? { defaultInboundPolicy: dip } : {}),
    });
    // Printing an object the API server would refuse helps nobody: validate before a byte goes out.
    const problems = objects.flatMap((o) => describeProblems(o, validateObject(o)));
    if (problems.length > 0) throw new InstallError('LINNET_INSTALL_INVALID', problems.join('; '), { hint: 'this is a bug in linnet install; please report it' });
    process.stdout.write(render(objects, values.output));
    if (identity.generated) {
      process.stderr.write(
        external
          ? 'linnet install: generated a trust anchor; its key is in the Secret linnet-trust-anchor in the output (keep the output secret)\n'
          : '',
      );
    }
    return 0;
  },
};
