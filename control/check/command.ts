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
import { fail, formatResults, ok, warn, type CheckResult } from './result';

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
  --policy-dir DIR                         Linkerd policy resources (as \`linnet control --policy-dir\`):
                                           each file reads, and ‼ for a Server nothing authorizes, a
                                           policy whose target or authentication does not exist, and
                                           (with --discovery-file) identities that match no workload
  --discovery-file FILE                    the mesh file, for the workloads' identities
  --control HOST:PORT                      the control plane's admin endpoint (9990): anchor,
                                           issuer and leaf expiry of the running mesh
  --timeout DURATION_MS                    per network check, default 2000
`;

/** The policy directory: every file reads; then the warnings of control/policy/report.ts. */
function checkPolicyDir(dir: string, meshFile: string | undefined): CheckResult[] {
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  const { parsePolicyDocuments } = require('../policy/documents') as typeof import('../policy/documents');
  const { PolicyIndex } = require('../policy/compile') as typeof import('../policy/compile');
  const { policyWarnings } = require('../policy/report') as typeof import('../policy/report');
  const out: CheckResult[] = [];
  const resources = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
  } catch (err) {
    return [fail('linnet-policy', `policy directory ${dir} can be read`, String((err as NodeJS.ErrnoException).code ?? err), 'check the path')];
  }
  for (const [i, n] of names.entries()) {
    try {
      resources.push(...parsePolicyDocuments(readFileSync(join(dir, n), 'utf8'), join(dir, n), i));
    } catch (err) {
      out.push(fail('linnet-policy', `${n} reads`, (err as Error).message.split('\n').slice(1, 4).join('; ').trim(), 'fix the listed fields'));
    }
  }
  let identities: string[] | undefined;
  if (meshFile) {
    const { parseMeshFile } = require('../destination/mesh-file') as typeof import('../destination/mesh-file');
    try {
      const mesh = parseMeshFile(readFileSync(meshFile, 'utf8'), meshFile);
      identities = [...mesh.workloads.map((w) => w.identity), ...mesh.services.flatMap((s) => s.endpoints.flatMap((e) => (e.identity ? [e.identity] : [])))];
    } catch (err) {
      out.push(fail('linnet-policy', `mesh file ${meshFile} reads`, (err as Error).message.split('\n')[0]!, 'fix the mesh file'));
    }
  }
  const warnings = policyWarnings(new PolicyIndex(resources), identities);
  for (const w of warnings) out.push(warn('linnet-policy', 'policy resources are consistent', w, 'see `linnet authz --policy-dir DIR --discovery-file FILE`'));
  if (warnings.length === 0 && out.length === 0) out.push(ok('linnet-policy', `${resources.length} policy resources in ${names.length} file(s) read and consistent`));
  return out;
}

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
          'policy-dir': { type: 'string' },
          'discovery-file': { type: 'string' },
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

    if (values['policy-dir']) out.push(...checkPolicyDir(values['policy-dir'], values['discovery-file']));

    if (out.length === 0) {
      out.push(warn('inputs', 'something to check', 'no certificates, manifests, kubeconfig or proxies were given or found', 'see `linnet check --help`'));
    }
    process.stdout.write(formatResults(out));
    return out.some((r) => r.status === 'fail') ? 1 : 0;
  },
};
