/**
 * `linnet await`: waits until the proxy beside it serves (GET /ready on its admin port), then
 * either exits 0 (the classic sidecar's postStart hook: the kubelet starts the app containers only
 * after it returns) or runs a command; with `--shutdown`, once that command has exited, it asks
 * the proxy to drain and exit (POST /shutdown, localhost only, enabled by the injector's
 * `config.linnet.io/proxy-admin-shutdown: enabled`), so that a Job's pod completes. It exits with
 * the command's status, as Linkerd's linkerd-await does.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import type { Command } from '../core/command';
import { LinnetError } from '../core/errors';
import { parseDuration, parseSocketAddr, type SocketAddr } from '../core/parse';

const USAGE = `usage: linnet await [--timeout 2m] [--admin-addr 127.0.0.1:4191] [--shutdown] [-- COMMAND [ARGS...]]

Waits until the proxy in this pod is ready (GET /ready on its admin port answers 200).
Without a command it then exits 0: the injector runs it as the proxy container's postStart hook,
so that the app containers start only once the proxy serves. With a command it runs it (stdio
and signals passed through) and exits with its status.

options:
  --timeout DURATION      how long to wait for /ready (default 2m); then exit ${69} with a message
  --admin-addr HOST:PORT  the proxy's admin address (default 127.0.0.1:4191)
  --shutdown              after COMMAND exits, POST /shutdown so the proxy drains and exits and a
                          Job's pod completes; the proxy must have LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED
                          (the annotation config.linnet.io/proxy-admin-shutdown: enabled sets it)
`;

/** sysexits' EX_UNAVAILABLE, as linkerd-await: the proxy never became ready. */
export const EXIT_NOT_READY = 69;
/** A command that could not be started (as a shell's "command not found"). */
export const EXIT_NO_COMMAND = 127;

interface Answer {
  status: number;
  body: string;
}

function adminCall(addr: SocketAddr, method: string, path: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: addr.host, port: addr.port, method, path, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').trim() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls /ready every 100 ms until 200 or the deadline; the error says what the last try saw. */
export async function waitReady(addr: SocketAddr, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const r = await adminCall(addr, 'GET', '/ready', 1000);
      if (r.status === 200) return;
      last = `HTTP ${r.status} ${r.body}`;
    } catch (err) {
      last = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new LinnetError('LINNET_AWAIT_NOT_READY', `the proxy at ${addr.host}:${addr.port} was not ready within ${timeoutMs} ms (last: ${last})`, {
        hint: 'see the linnet-proxy container\'s log (kubectl logs POD -c linnet-proxy): it may still wait for its certificate, or not run at all',
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the command with our stdio; signals we get are passed on. Resolves to its exit status (128+n for a signal). */
function runCommand(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const done = (code: number) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code);
    };
    child.on('error', (err) => {
      process.stderr.write(`linnet await: LINNET_AWAIT_COMMAND: cannot run ${argv[0]}: ${(err as NodeJS.ErrnoException).code ?? err.message} (check the command and its PATH)\n`);
      done(EXIT_NO_COMMAND);
    });
    child.on('exit', (code, signal) => {
      const signo = signal ? ((require('node:os') as typeof import('node:os')).constants.signals[signal] ?? 0) : 0;
      done(code ?? 128 + signo);
    });
  });
}

/** POST /shutdown; a refusal is reported (with what to do) but does not change the exit status. */
async function askShutdown(addr: SocketAddr): Promise<void> {
  try {
    const r = await adminCall(addr, 'POST', '/shutdown', 5000);
    if (r.status === 202) return;
    const hint =
      r.status === 404
        ? 'the proxy\'s shutdown endpoint is off: annotate the pod config.linnet.io/proxy-admin-shutdown: enabled'
        : 'the proxy refused; it accepts /shutdown only from localhost';
    process.stderr.write(`linnet await: LINNET_AWAIT_SHUTDOWN_REFUSED: POST /shutdown answered ${r.status} ${r.body} (${hint})\n`);
  } catch (err) {
    process.stderr.write(`linnet await: LINNET_AWAIT_SHUTDOWN_FAILED: POST /shutdown: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (the proxy may have exited already)\n`);
  }
}

export const command: Command = {
  summary: 'wait for the proxy to be ready, optionally run a command and then shut the proxy down',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const dash = args.indexOf('--');
    const own = dash >= 0 ? args.slice(0, dash) : args;
    const cmd = dash >= 0 ? args.slice(dash + 1) : [];
    let values;
    try {
      values = parseArgs({
        args: own,
        allowPositionals: false,
        options: {
          timeout: { type: 'string', default: '2m' },
          'admin-addr': { type: 'string', default: '127.0.0.1:4191' },
          shutdown: { type: 'boolean', default: false },
        },
      }).values;
    } catch (err) {
      process.stderr.write(`linnet await: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (dash >= 0 && cmd.length === 0) {
      process.stderr.write(`linnet await: nothing after --\n\n${USAGE}`);
      return 2;
    }
    if (values.shutdown && cmd.length === 0) {
      process.stderr.write(`linnet await: --shutdown needs a command (-- COMMAND ...)\n\n${USAGE}`);
      return 2;
    }
    const timeoutMs = parseDuration('--timeout', values.timeout!);
    const addr = parseSocketAddr('--admin-addr', values['admin-addr']!);
    try {
      await waitReady(addr, timeoutMs);
    } catch (err) {
      if (!(err instanceof LinnetError)) throw err;
      process.stderr.write(`linnet await: ${err.describe()}\n`);
      // A Job whose proxy never came up must still end: ask it to go (it may be listening by now).
      if (values.shutdown) await askShutdown(addr);
      return EXIT_NOT_READY;
    }
    if (cmd.length === 0) return 0;
    const status = await runCommand(cmd);
    if (values.shutdown) await askShutdown(addr);
    return status;
  },
};
