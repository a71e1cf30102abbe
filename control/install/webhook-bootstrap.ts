/**
 * The injector webhook's serving certificate, made in the cluster by the control plane so that
 * `linnet install` prints no key: on start, the Secret `linnet-proxy-injector-k8s-tls` is
 * created if absent (create-if-absent; a replica that loses the race adopts the winner's) and
 * the MutatingWebhookConfiguration's caBundle is patched to the Secret's ca.crt when it differs.
 */
import { unexpected, type KubeRest } from '../identity/kube-rest';
import { webhookCerts } from './certs';
import { NAMES } from './manifests';

export async function bootstrapWebhook(rest: KubeRest, namespace: string, log: (level: 'info' | 'warn', message: string) => void): Promise<{ created: boolean; patched: boolean }> {
  const path = `/api/v1/namespaces/${namespace}/secrets`;
  let secret = await rest.call('GET', `${path}/${NAMES.injectorTls}`);
  let created = false;
  if (secret.status === 404) {
    const c = await webhookCerts(NAMES.injector, namespace);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: NAMES.injectorTls, namespace, labels: { 'app.kubernetes.io/part-of': 'linnet', 'linnet.io/control-plane-ns': namespace } },
      data: { 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem), 'ca.crt': b64(c.caPem) },
    };
    const r = await rest.call('POST', path, body);
    if (r.status === 201 || r.status === 200) {
      created = true;
      secret = r;
      log('info', `created the webhook's serving certificate (Secret ${namespace}/${NAMES.injectorTls})`);
    } else if (r.status === 409) {
      secret = await rest.call('GET', `${path}/${NAMES.injectorTls}`);
    } else throw unexpected(`creating Secret ${namespace}/${NAMES.injectorTls}`, r);
  }
  if (secret.status !== 200 && secret.status !== 201) throw unexpected(`reading Secret ${namespace}/${NAMES.injectorTls}`, secret);
  const caB64 = (secret.body as { data?: Record<string, string> }).data?.['ca.crt'];
  if (!caB64) return { created, patched: false };
  const hookPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${NAMES.webhookConfig}`;
  const hook = await rest.call('GET', hookPath);
  if (hook.status === 404) {
    log('warn', `MutatingWebhookConfiguration ${NAMES.webhookConfig} not found; its caBundle is not set (apply linnet install's output)`);
    return { created, patched: false };
  }
  if (hook.status !== 200) throw unexpected(`reading MutatingWebhookConfiguration ${NAMES.webhookConfig}`, hook);
  const webhooks = (hook.body['webhooks'] as { clientConfig?: { caBundle?: string } }[] | undefined) ?? [];
  const patch = webhooks.flatMap((w, i) => (w.clientConfig?.caBundle === caB64 ? [] : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caB64 }]));
  if (patch.length === 0) return { created, patched: false };
  const r = await rest.call('PATCH', hookPath, patch, 'application/json-patch+json');
  if (r.status !== 200) throw unexpected(`patching the caBundle of ${NAMES.webhookConfig}`, r);
  log('info', `set the caBundle of MutatingWebhookConfiguration ${NAMES.webhookConfig}`);
  return { created, patched: true };
}
