/** `linnet uninstall`: prints what to delete, for `linnet uninstall | kubectl delete -f -`. */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { Command } from '../../core/command';
import { uninstallReferences } from './manifests';

const USAGE = `usage: linnet uninstall [--namespace NS] | kubectl delete -f -

Prints references to every object \`linnet install\` created: the MutatingWebhookConfiguration
first (so no pod waits on a vanishing injector), the cluster roles and bindings, then the
namespace, which takes the Deployments, Services, Secrets and cert-manager objects with it.
Injected workloads keep their sidecar until \`linnet uninject\` or a restart without injection.

options:
  --namespace NS   control-plane namespace, default linnet
`;

export const command: Command = {
  summary: 'print the control plane objects to delete (kubectl delete -f -)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let namespace: string;
    try {
      namespace = parseArgs({ args, options: { namespace: { type: 'string', default: 'linnet' } } }).values.namespace!;
    } catch (err) {
      process.stderr.write(`linnet uninstall: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stdout.write(uninstallReferences(namespace).map((o) => '---\n' + stringify(o)).join(''));
    return 0;
  },
};
