/**
 * `linnet identity create --out DIR`: a new ECDSA P-256 trust anchor (ca.crt, ca.key) and an
 * issuer it signed (issuer.crt, issuer.key), for `linnet control --identity-dir DIR` and for the
 * proxies' LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE (ca.crt only).
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../../core/command';
import { parseDuration } from '../../core/parse';
import { createCa, FILES, ANCHOR_LIFETIME_MS, ISSUER_LIFETIME_MS } from './ca';
import { IdentityError } from './errors';
import { DEFAULT_CONTROL_NAMESPACE, DEFAULT_TRUST_DOMAIN } from './names';

const usage = `usage: linnet identity create --out DIR [options]
       linnet identity rotate-anchor (--identity-dir DIR | --kubernetes) [options]

Writes a new trust anchor and issuer (ECDSA P-256, PEM) into DIR:
  ca.crt       the trust anchor certificate: give it to every proxy
               (LINNET_PROXY_IDENTITY_TRUST_ANCHORS_FILE) and to linnet control
  ca.key       the trust anchor's key: keep it offline; needed only to sign a new issuer
  issuer.crt   the issuer certificate (CA, pathlen 0), signed by the anchor
  issuer.key   the issuer's key, used by linnet control to sign proxy certificates

options:
  --out DIR                 where to write (created if missing)
  --trust-domain NAME       default ${DEFAULT_TRUST_DOMAIN}
  --control-namespace NS    default ${DEFAULT_CONTROL_NAMESPACE}
  --anchor-lifetime DUR     default 8760h (1 year; rotate it with linnet identity rotate-anchor)
  --issuer-lifetime DUR     default 168h (7 days; linnet control makes the next one itself
                            while ca.key is in the directory)
  --force                   overwrite existing files

rotate-anchor: replaces the trust anchor without restarting a pod, in five steps, each shown with
its progress: [1] add the new anchor to the bundle, [2] wait until every connected proxy holds
it (proxies get the bundle with each certificate), [3] hand the new anchor's key to the control
plane, which makes an issuer under it, [4] wait until every proxy's leaf chains to the new
anchor, [5] drop the old anchor. Interrupted, run it again: it resumes from its record
(rotation.json in the identity dir, or the Secret linnet-anchor-rotation).
  --identity-dir DIR        embedded mode: the directory linnet control uses
  --kubernetes              the Secrets and ConfigMap in --namespace (default linnet)
  --kubeconfig FILE         for --kubernetes
  --control ADDR[,ADDR...]  the control plane's admin address (default 127.0.0.1:9990), asked
                            which proxies hold what (GET /identity/proxies); with several
                            replicas, every replica's (each knows only the proxies it certified)
  --dry-run                 print the plan (or, during a rotation, where it stands) and change nothing
  --anchor-lifetime DUR     of the new anchor (default 8760h)
  --poll DUR                how often to look again while waiting (default 1s)
  --timeout DUR             give up waiting after this long (default 1h; run again to resume)
`;

async function writeNew(path: string, text: string, mode: number, force: boolean): Promise<void> {
  let fh;
  try {
    fh = await open(path, force ? 'w' : 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new IdentityError('LINNET_IDENTITY_OUTPUT_EXISTS', `${path} already exists`, { hint: 'choose another --out or pass --force' });
    }
    throw err;
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(mode); // open's mode is masked by umask and ignored for existing files
  } finally {
    await fh.close();
  }
}

export const command: Command = {
  summary: 'create a trust anchor and an issuer (PEM files); rotate the trust anchor live',
  usage,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'rotate-anchor') return rotateAnchorCommand(rest);
    if (sub !== 'create') {
      process.stderr.write(`linnet identity: unknown sub-command ${JSON.stringify(sub ?? '')}\n\n${usage}`);
      return 2;
    }
    let values;
    try {
      ({ values } = parseArgs({
        args: rest,
        options: {
          out: { type: 'string' },
          'trust-domain': { type: 'string', default: DEFAULT_TRUST_DOMAIN },
          'control-namespace': { type: 'string', default: DEFAULT_CONTROL_NAMESPACE },
          'anchor-lifetime': { type: 'string' },
          'issuer-lifetime': { type: 'string' },
          force: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      process.stderr.write(`linnet identity create: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    if (!values.out) {
      process.stderr.write(`linnet identity create: --out DIR is required\n\n${usage}`);
      return 2;
    }
    const anchorLifetimeMs = values['anchor-lifetime'] ? parseDuration('--anchor-lifetime', values['anchor-lifetime']) : ANCHOR_LIFETIME_MS;
    const issuerLifetimeMs = values['issuer-lifetime'] ? parseDuration('--issuer-lifetime', values['issuer-lifetime']) : ISSUER_LIFETIME_MS;
    const ca = await createCa({
      trustDomain: values['trust-domain'],
      controlNamespace: values['control-namespace'],
      anchorLifetimeMs,
      issuerLifetimeMs,
    });
    await mkdir(values.out, { recursive: true });
    const force = values.force ?? false;
    // Refuse before writing anything, so a refused run never leaves a half-replaced set.
    if (!force) {
      for (const name of Object.values(FILES)) {
        if (existsSync(join(values.out, name))) {
          throw new IdentityError('LINNET_IDENTITY_OUTPUT_EXISTS', `${join(values.out, name)} already exists`, { hint: 'choose another --out or pass --force' });
        }
      }
    }
    await writeNew(join(values.out, FILES.anchor), ca.anchorPem, 0o644, force);
    await writeNew(join(values.out, FILES.anchorKey), ca.anchorKeyPem, 0o600, force);
    await writeNew(join(values.out, FILES.issuer), ca.issuerPem, 0o644, force);
    await writeNew(join(values.out, FILES.issuerKey), ca.issuerKeyPem, 0o600, force);
    process.stdout.write(`wrote ${FILES.anchor}, ${FILES.anchorKey}, ${FILES.issuer}, ${FILES.issuerKey} to ${values.out}\n`);
    return 0;
  },
};

async function rotateAnchorCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'identity-dir': { type: 'string' },
        kubernetes: { type: 'boolean', default: false },
        kubeconfig: { type: 'string' },
        namespace: { type: 'string', default: DEFAULT_CONTROL_NAMESPACE },
        control: { type: 'string', default: '127.0.0.1:9990' },
        'dry-run': { type: 'boolean', default: false },
        'trust-domain': { type: 'string', default: DEFAULT_TRUST_DOMAIN },
        'anchor-lifetime': { type: 'string' },
        poll: { type: 'string', default: '1s' },
        timeout: { type: 'string', default: '1h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`linnet identity rotate-anchor: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (!values['identity-dir'] === !values.kubernetes) {
    process.stderr.write(`linnet identity rotate-anchor: give --identity-dir DIR or --kubernetes (one)\n\n${usage}`);
    return 2;
  }
  const { dirStore } = await import('./store');
  const { rotateAnchor } = await import('./rotate-anchor');
  let store;
  if (values.kubernetes) {
    const { kubeRest, loadKubeConfig } = await import('./kube-rest');
    const { kubeStore } = await import('./kube-store');
    store = kubeStore({ rest: kubeRest(loadKubeConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {})), namespace: values.namespace!, trustDomain: values['trust-domain']!, controlNamespace: values.namespace! });
  } else store = dirStore(values['identity-dir']!);
  const result = await rotateAnchor({
    store,
    controlAdmin: values.control!.split(',').map((a) => a.trim()).filter(Boolean),
    trustDomain: values['trust-domain']!,
    controlNamespace: values.namespace!,
    anchorLifetimeMs: values['anchor-lifetime'] ? parseDuration('--anchor-lifetime', values['anchor-lifetime']) : ANCHOR_LIFETIME_MS,
    dryRun: values['dry-run']!,
    pollMs: parseDuration('--poll', values.poll!),
    timeoutMs: parseDuration('--timeout', values.timeout!),
    out: (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`),
  });
  return result === 'finished' || result === 'planned' ? 0 : 1;
}
