/**
 * `linnet demo` (`npm start`): a small local mesh in network namespaces — a client pod and a
 * server pod, each with `linnet init` and a proxy — running a demo echo service under steady
 * traffic, with a live view of each proxy's golden TCP metrics read from its own /metrics.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../control/cli/command';
import { parseDuration, parsePositiveInt } from '../../proxy/config/parse';
import { APP_UID, REPO_ROOT, rootSkipReason, type Pod } from '../pods';
import { TCP_APP, createMesh, serveTcp, type Mesh } from '../pods/mesh';
import { rates, renderSummary, renderTable, snapshot, type Snapshot, type ViewRow } from './view';

const DEMO_PORT = 8080;
/** Long-lived connections the demo client keeps open beside its stream of short ones. */
const HELD = 3;

const usage = `usage: linnet demo [--duration 10s] [--rate 20] [--workers 1]

Builds a local mesh in network namespaces (a node namespace with a bridge, a "client" pod and a
"server" pod, each with linnet init's iptables and a linnet proxy as uid 2102), runs a TCP echo
service in the server pod and steady traffic from the client pod (a stream of short connections
plus ${HELD} long-lived ones), and shows each proxy's golden TCP metrics, read from its own
/metrics, every second: open connections, connections/s, bytes in/out per second, errors, RSS.
Ctrl-C (SIGINT) or SIGTERM tears everything down. Needs root (ip netns, iptables).

options:
  --duration D   stop after D (e.g. 10s, 2m) and print a summary; default: until Ctrl-C
  --rate R       new client connections per second (default 20); each sends 1-16 KiB, echoed back
  --workers N    LINNET_PROXY_WORKERS for both proxies (default 1)

exit status: 0 when traffic flowed through both proxies without errors, 1 otherwise.
`;

function progress(step: string, done = false): void {
  process.stderr.write(`linnet demo: ${step}${done ? '' : '…'}\n`);
}

async function scrape(pod: Pod): Promise<Snapshot | undefined> {
  try {
    return snapshot(await pod.metrics(), Date.now());
  } catch {
    return undefined; // shown as "unreachable"; the proxy's log says why
  }
}

function rssOf(pod: Pod): number | undefined {
  try {
    return pod.rss().rss;
  } catch {
    return undefined;
  }
}

export const command: Command = {
  summary: 'run a local mesh (network namespaces) with a demo app and live golden metrics',
  usage,
  async run(args) {
    let values;
    try {
      values = parseArgs({
        args,
        options: { duration: { type: 'string' }, rate: { type: 'string', default: '20' }, workers: { type: 'string', default: '1' } },
      }).values;
    } catch (err) {
      process.stderr.write(`linnet demo: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    const durationMs = values.duration === undefined ? undefined : parseDuration('--duration', values.duration);
    const rate = parsePositiveInt('--rate', values.rate, 1000);
    const workers = parsePositiveInt('--workers', values.workers, 64);

    const why = rootSkipReason();
    if (why) {
      process.stderr.write(
        `linnet demo: cannot build the mesh: it ${why} (it creates network namespaces, veth pairs and iptables rules).\n` +
          'Run it as root, e.g. `sudo npm start`, or in a container with CAP_NET_ADMIN and CAP_SYS_ADMIN.\n',
      );
      return 1;
    }
    for (const m of ['proxy/command.js', 'init/command.js']) {
      if (!existsSync(join(REPO_ROOT, 'dist', m))) {
        process.stderr.write(`linnet demo: dist/${m} is missing; build first with \`npm run build\`\n`);
        return 1;
      }
    }

    let stopping = false;
    let wake: (() => void) | undefined;
    const stop = (sig: string) => {
      if (!stopping) process.stderr.write(`\nlinnet demo: ${sig}: tearing down…\n`);
      stopping = true;
      wake?.();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);

    let mesh: Mesh | undefined;
    let start = Date.now();
    let ok = false;
    try {
      const env = { LINNET_PROXY_WORKERS: String(workers) };
      const steps: Record<string, string> = {
        'creating pods': 'creating pods (veth into the bridge)',
        'applying iptables (linnet init)': 'applying iptables in each pod (linnet init)',
        'starting proxies': 'starting proxies (uid 2102) and waiting for /ready',
      };
      progress('creating namespaces');
      mesh = await createMesh({ clientEnv: env, serverEnv: env, onStep: (s) => s !== 'ready' && !s.startsWith('creating node') && progress(steps[s] ?? s) });
      if (stopping) return 1;
      const { client, server } = mesh;
      progress(`starting the demo echo server on ${server.ip}:${DEMO_PORT}`);
      await serveTcp(server, DEMO_PORT, ['--echo']);
      progress(`starting the demo client (${rate} connections/s)`);
      const load = client.spawn(process.execPath, [TCP_APP, 'connect', '--to', `${server.ip}:${DEMO_PORT}`, '--rate', String(rate)], {
        uid: APP_UID,
        name: 'demo-client',
      });
      // A few long-lived connections too, so "open conns" shows what a pool of clients looks like.
      client.spawn(process.execPath, [TCP_APP, 'connect', '--to', `${server.ip}:${DEMO_PORT}`, '--connections', String(HELD), '--send', '1024', '--hold'], {
        uid: APP_UID,
        name: 'demo-held',
      });
      progress(`ready (logs in ${mesh.cluster.logDir})`, true);
      start = Date.now(); // rates and the summary cover the traffic, not the setup

      const proxies: [string, Pod][] = [
        ['client proxy (outbound)', client],
        ['server proxy (inbound)', server],
      ];
      const first: (Snapshot | undefined)[] = await Promise.all(proxies.map(([, p]) => scrape(p)));
      let prev = [...first];
      let last = [...first];
      const tty = process.stdout.isTTY === true;
      while (!stopping) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (stopping) break;
        const now: (Snapshot | undefined)[] = await Promise.all(proxies.map(([, p]) => scrape(p)));
        const rows: ViewRow[] = [];
        const lines: string[] = [];
        proxies.forEach(([name, pod], i) => {
          const cur = now[i];
          if (!cur) {
            lines.push(`${name}: /metrics unreachable`);
            return;
          }
          rows.push({ name, rates: rates(prev[i], cur), rss: rssOf(pod) });
          last[i] = cur;
        });
        prev = now.map((s, i) => s ?? prev[i]);
        const elapsed = Date.now() - start;
        const table = renderTable(rows, elapsed) + (lines.length ? '\n' + lines.join('\n') : '');
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${table}\n`);
        else process.stdout.write(`${table.split('\n').slice(2).join('\n')}\n\n`);
        if (!load.running) {
          process.stderr.write(`linnet demo: the demo client stopped unexpectedly:\n${load.logTail(10)}\n`);
          break;
        }
        if (durationMs !== undefined && elapsed >= durationMs) break;
      }
      const totals = proxies.flatMap(([name], i) => (first[i] && last[i] ? [{ name, first: first[i]!, last: last[i]! }] : []));
      process.stdout.write(renderSummary(totals, Date.now() - start) + '\n');
      ok = totals.length === proxies.length && totals.every((t) => t.last.opened > t.first.opened && t.last.errors === t.first.errors);
      if (!ok) process.stderr.write(`linnet demo: traffic did not flow cleanly through both proxies; proxy logs:\n${mesh.cluster.logTails(20)}\n`);
    } finally {
      if (mesh) {
        progress('stopping processes and deleting namespaces');
        await mesh.cluster.destroy();
        progress('done', true);
      }
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    return ok ? 0 : 1;
  },
};
