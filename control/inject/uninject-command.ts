/** `linnet uninject`: the inverse of `linnet inject`, same inputs and outputs. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../../core/command';
import { readSources, transformSources } from './manifest-stream';
import { formatReport, uninjectObject } from './transform';

const USAGE = `usage: linnet uninject FILE|DIR|- ...

Removes the Linnet sidecar (init and proxy containers, their volumes, labels and annotations) and
the linnet.io/inject: enabled annotation from Kubernetes manifests, so that

  kubectl get deploy web -o yaml | linnet uninject - | kubectl apply -f -

takes a workload out of the mesh. Same inputs as \`linnet inject\`; report lines on stderr.
`;

export const command: Command = {
  summary: 'remove the Linnet sidecar from Kubernetes manifests',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let positionals: string[];
    try {
      positionals = parseArgs({ args, allowPositionals: true, options: {} }).positionals;
    } catch (err) {
      process.stderr.write(`linnet uninject: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (positionals.length === 0) {
      process.stderr.write(`linnet uninject: give at least one file, folder or - (stdin)\n\n${USAGE}`);
      return 2;
    }
    const result = transformSources(
      readSources(positionals, () => readFileSync(0, 'utf8')),
      (obj) => uninjectObject(obj),
    );
    process.stdout.write(result.output);
    const lines = result.reports.filter((r) => r.status !== 'passthrough').map(formatReport);
    if (lines.length > 0) process.stderr.write(lines.join('\n') + '\n');
    return 0;
  },
};
