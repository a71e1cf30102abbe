/** `linnet check`: certificate, manifest, kubeconfig and data-plane checks; √ / ‼ / × with hints. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { Command } from '../../core/command';
import { checkIdentity } from './cert-checks';
import { checkApiReachable, checkKubeconfigText } from './kubeconfig-checks';
import { checkManifests } from './manifest-checks';
import { checkProxy } from './proxy-checks';
import { checkRunningIdentity, fetchControlIdentity } from './control-checks';
import { fail, formatResults, warn, type CheckResult } from './result';

const USAGE = `usage: linnet check [options]

Runs every check it has inputs for and prints √ (ok), ‼ (warning) or × (failure) with a hint.
Exits 1 when anything fails, 0 otherwise.

options:
  --identity-dir DIR                       ca.crt, issuer.crt, issuer.key (as \`linnet identity create\`)
  --identity-trust-anchors-file FILE       or the three files one by one
  --identity-issuer-certificate-file FILE
  --identity-issuer-key-file FILE
  --manifests FILE|-                       manifests to check (\`linnet install\` output, or
                                           \`kubectl get -A deploy,cm,secret,... -o yaml\`); repeatable
  --kubeconfig FILE                        default $KUBECONFIG or ~/.kube/config, when present
  --proxy HOST:PORT                        a proxy's admin endpoint (4191); repeatable
  --control HOST:PORT                      the control plane's admin endpoint (9990): anchor,
                                           issuer and leaf expiry of the running mesh
  --timeout DURATION_MS                    per network check, default 2000
`;

function readText(file: string, what: string, out: CheckResult[]): string | undefined {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    out.push(fail('inputs', `${what} can be read`, `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check the path'));
    return undefined;
  }
}

export const command: Command = {
  summary: 'check certificates, manifests, the kubeconfig and proxies (√ ‼ ×)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args,
        options: {
          'identity-dir': { type: 'string' },
          'identity-trust-anchors-file': { type: 'string' },
          'identity-issuer-certificate-file': { type: 'string' },
          'identity-issuer-key-file': { type: 'string' },
          manifests: { type: 'string', multiple: true },
          kubeconfig: { type: 'string' },
          proxy: { type: 'string', multiple: true },
          control: { type: 'string', multiple: true },
          timeout: { type: 'string', default: '2000' },
        },
      }).values;
    } catch (err) {
      process.stderr.write(`linnet check: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const timeout = Number(values.timeout);
    const out: CheckResult[] = [];
    const now = Date.now();

    // Certificates, from a directory or single files.
    const dir = values['identity-dir'];
    const anchorsFile = values['identity-trust-anchors-file'] ?? (dir ? join(dir, 'ca.crt') : undefined);
    const issuerFile = values['identity-issuer-certificate-file'] ?? (dir ? join(dir, 'issuer.crt') : undefined);
    const keyFile = values['identity-issuer-key-file'] ?? (dir && existsSync(join(dir, 'issuer.key')) ? join(dir, 'issuer.key') : undefined);
    if (anchorsFile || issuerFile) {
      if (!anchorsFile || !issuerFile) {
        out.push(fail('linnet-identity', 'trust anchors and issuer are given', 'give both the trust anchors and the issuer certificate', 'use --identity-dir or both --identity-* files'));
      } else {
        const anchorsPem = readText(anchorsFile, 'trust anchors', out);
        const issuerPem = readText(issuerFile, 'issuer certificate', out);
        const issuerKeyPem = keyFile ? readText(keyFile, 'issuer key', out) : undefined;
        if (anchorsPem !== undefined && issuerPem !== undefined) out.push(...checkIdentity({ anchorsPem, issuerPem, issuerKeyPem, source: dir ?? issuerFile }, now));
      }
    }

    for (const file of values.manifests ?? []) {
      const text = readText(file, 'manifests', out);
      if (text === undefined) continue;
      const objs: Record<string, unknown>[] = [];
      let parseError: string | undefined;
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors[0]) {
          parseError = doc.errors[0].message.split('\n')[0];
          break;
        }
        const v = doc.toJS() as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const o = v as Record<string, unknown>;
          if (o.kind === 'List' && Array.isArray(o.items)) objs.push(...(o.items as Record<string, unknown>[]));
          else objs.push(o);
        }
      }
      if (parseError) out.push(fail('linnet-config', `manifests ${file} parse`, parseError, 'fix the YAML'));
      else out.push(...checkManifests(objs, now));
    }

    const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
    if (values.kubeconfig || existsSync(kubeconfig)) {
      const text = readText(kubeconfig, 'kubeconfig', out);
      if (text !== undefined) {
        const found = checkKubeconfigText(text, kubeconfig, now);
        out.push(...found.results);
        if (found.server) out.push(await checkApiReachable(found.server, timeout));
      }
    }

    for (const addr of values.proxy ?? []) out.push(...(await checkProxy(addr, now, timeout)));
    for (const addr of values.control ?? []) {
      try {
        out.push(...checkRunningIdentity(await fetchControlIdentity(addr, timeout), now));
      } catch (err) {
        out.push(fail('linnet-identity (running)', `control plane ${addr} answers`, (err as Error).message, 'is linnet control running with identity, its --admin-addr reachable? (kubectl port-forward deploy/linnet-control 9990)'));
      }
    }

    if (out.length === 0) {
      out.push(warn('inputs', 'something to check', 'no certificates, manifests, kubeconfig or proxies were given or found', 'see `linnet check --help`'));
    }
    process.stdout.write(formatResults(out));
    return out.some((r) => r.status === 'fail') ? 1 : 0;
  },
};
