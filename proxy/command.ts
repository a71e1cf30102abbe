/** `linnet proxy`: the sidecar. Configured only by LINNET_PROXY_* environment variables. */
import type { Command } from '../core/command';
import { applyHeapGrowingPercent } from '../core/proxy-node-options';
import { loadProxyConfig, PROXY_ENV } from './runtime/config';
import { assertNativeSupport } from './transport/native';
import { startProxy } from './runtime/supervisor';

const usage = `usage: linnet proxy

Runs the sidecar proxy. It takes no flags: every setting is an environment variable, so the
injector and Kubernetes manifests configure it the same way.

${Object.entries(PROXY_ENV)
  .map(([name, v]) => `  ${name}\n      ${v.meaning} (default ${v.default})`)
  .join('\n')}

Signals: SIGTERM or SIGINT drain (no new connections; open ones finish within the grace period).
`;

export const command: Command = {
  summary: 'run the sidecar proxy (configured by LINNET_PROXY_* environment variables)',
  usage,
  async run(args) {
    if (args.length > 0) {
      process.stderr.write(`linnet proxy: takes no arguments (got ${args.join(' ')}); see linnet proxy --help\n`);
      return 2;
    }
    const config = loadProxyConfig();
    applyHeapGrowingPercent(config.heapGrowingPercent);
    assertNativeSupport();
    const proxy = await startProxy(config);
    process.once('SIGTERM', () => proxy.shutdown('SIGTERM'));
    process.once('SIGINT', () => proxy.shutdown('SIGINT'));
    await proxy.done;
    return 0;
  },
};
