import { LinnetError } from './errors';
import type { Command } from './command';

/**
 * The `linnet` command table. Modules are loaded only when their command runs, so `linnet init`
 * in the init container does not pay for the proxy or the control plane.
 */
const COMMANDS: Record<string, () => Command> = {
  proxy: () => require('../proxy/command').command,
  await: () => require('../proxy/await-command').command,
  init: () => require('../init/command').command,
  demo: () => require('../control/local/demo/command').command,
  control: () => require('../control/control-command').command,
  inject: () => require('../control/inject/command').command,
  uninject: () => require('../control/inject/uninject-command').command,
  install: () => require('../control/install/command').command,
  uninstall: () => require('../control/install/uninstall-command').command,
  check: () => require('../control/check/command').command,
  authz: () => require('../control/policy/authz-command').command,
  routes: () => require('../control/policy/routes-command').command,
  viz: () => require('../control/viz/viz-command').command,
  diagnostics: () => require('../control/viz/diagnostics-command').command,
  identity: () => require('../control/identity/command').command,
  bench: () => require('../bench/command').command,
  fuzz: () => require('../fuzz/command').command,
};

function topUsage(): string {
  const lines = ['usage: linnet <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    let summary = '';
    try {
      summary = load().summary;
    } catch {
      summary = '(unavailable in this build)';
    }
    lines.push(`  ${name.padEnd(12)} ${summary}`);
  }
  lines.push('', 'Run `linnet <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topUsage() + '\n');
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`linnet: unknown command "${name}"\n\n${topUsage()}\n`);
    process.exitCode = 2;
    return;
  }
  const command = load();
  // Only the command's own options: `linnet await -- app --help` is the app's --help.
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(command.usage.trimEnd() + '\n');
    return;
  }
  try {
    process.exitCode = await command.run(rest);
  } catch (err) {
    if (err instanceof LinnetError) {
      process.stderr.write(`linnet ${name}: ${err.describe()}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
