/**
 * Resource-exhaustion clients for test/hostile-exhaustion.test.ts, run inside a pod:
 *
 *   node hostile-attack.js slowloris HOST PORT CONNS SECONDS   request line, then one header byte a second
 *   node hostile-attack.js idle HOST PORT CONNS SECONDS        connect and send nothing
 *   node hostile-attack.js tls-stall HOST PORT CONNS SECONDS HELLO_FILE  half a ClientHello, then silence
 *   node hostile-attack.js big-head HOST PORT BYTES            one request with a header block of BYTES
 *   node hostile-attack.js many-headers HOST PORT COUNT        one request with COUNT tiny header fields
 *   node hostile-attack.js banner HOST PORT                    a server-speaks-first session held open:
 *       waits for the banner, prints {"event":"banner-ready"}, then on stdin "check" sends a line
 *       and prints {"event":"banner","answered":...,"closedEarly":...}
 *
 * Prints one JSON line at the end: how many connections opened, how many the far side closed
 * (and how soon), what status lines came back.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tally {
  opened: number;
  closedByPeer: number;
  firstCloseMs: number | undefined;
  statuses: Record<string, number>;
  errors: Record<string, number>;
}

async function hold(mode: string, host: string, port: number, conns: number, seconds: number, first: Buffer, drip: boolean): Promise<void> {
  const t0 = Date.now();
  const tally: Tally = { opened: 0, closedByPeer: 0, firstCloseMs: undefined, statuses: {}, errors: {} };
  const sockets: Socket[] = [];
  let stopping = false;
  for (let k = 0; k < conns; k++) {
    const s = connect({ host, port });
    sockets.push(s);
    let data = '';
    s.on('connect', () => {
      tally.opened++;
      if (first.length) s.write(first);
    });
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', (e) => {
      const c = (e as NodeJS.ErrnoException).code ?? e.message;
      tally.errors[c] = (tally.errors[c] ?? 0) + 1;
    });
    s.on('close', () => {
      if (stopping) return;
      tally.closedByPeer++;
      tally.firstCloseMs ??= Date.now() - t0;
      const st = /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? (data.length ? 'other' : 'none');
      tally.statuses[st] = (tally.statuses[st] ?? 0) + 1;
    });
    // Open in batches so the listen backlog is not the thing being measured.
    if (k % 200 === 199) await sleep(20);
  }
  say({ event: 'opened', mode, opened: tally.opened, ms: Date.now() - t0 });
  const deadline = t0 + seconds * 1000;
  while (Date.now() < deadline) {
    await sleep(1000);
    if (drip) for (const s of sockets) if (!s.destroyed) s.write('X');
  }
  const open = sockets.filter((s) => !s.destroyed).length;
  stopping = true;
  for (const s of sockets) s.destroy();
  say({ event: 'attack', mode, conns, seconds, stillOpen: open, ...tally });
}

function oneRequest(mode: string, host: string, port: number, req: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = '';
    let error = '';
    const s = connect({ host, port });
    s.on('connect', () => s.write(req));
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (/\r\n\r\n/.test(data)) s.destroy();
    });
    s.on('error', (e) => (error = (e as NodeJS.ErrnoException).code ?? e.message));
    const timer = setTimeout(() => s.destroy(), 20_000);
    s.on('close', () => {
      clearTimeout(timer);
      say({ event: 'attack', mode, bytes: req.length, status: /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 'none', reason: /l5d-proxy-error: ([^\r\n]*)/.exec(data)?.[1], ms: Date.now() - t0, error });
      resolve();
    });
  });
}

/** One long-lived session with a server that speaks first; checked again when asked on stdin. */
function banner(host: string, port: number): void {
  let data = '';
  let closedEarly = false;
  let checking = false;
  const s = connect({ host, port });
  s.on('data', (d: Buffer) => {
    data += d.toString('latin1');
    if (!checking && data.includes('220 ')) say({ event: 'banner-ready', banner: data.trim() });
    if (checking && data.includes('250 still-here')) {
      say({ event: 'banner', answered: true, closedEarly });
      process.exit(0);
    }
  });
  s.on('error', () => {});
  s.on('close', () => {
    closedEarly = !checking;
    if (checking) {
      say({ event: 'banner', answered: false, closedEarly });
      process.exit(0);
    }
  });
  process.stdin.on('data', () => {
    checking = true;
    if (s.destroyed) {
      say({ event: 'banner', answered: false, closedEarly: true });
      process.exit(0);
    }
    s.write('still-here\r\n');
    setTimeout(() => {
      say({ event: 'banner', answered: false, closedEarly });
      process.exit(0);
    }, 5000);
  });
}

async function main(): Promise<void> {
  const [mode, host, portText, nText, secText, file] = process.argv.slice(2);
  const port = Number(portText);
  const n = Number(nText);
  const head = `GET /attack HTTP/1.1\r\nHost: ${host}:${port}\r\n`;
  switch (mode) {
    case 'slowloris':
      return hold(mode, host!, port, n, Number(secText), Buffer.from(head + 'X-Slow: '), true);
    case 'idle':
      return hold(mode, host!, port, n, Number(secText), Buffer.alloc(0), false);
    case 'tls-stall': {
      const hello = readFileSync(file!);
      return hold(mode, host!, port, n, Number(secText), hello.subarray(0, Math.floor(hello.length / 2)), false);
    }
    case 'big-head':
      return oneRequest(mode, host!, port, Buffer.from(`${head}X-Big: ${'b'.repeat(n)}\r\n\r\n`));
    case 'banner':
      return banner(host!, port);
    case 'many-headers':
      return oneRequest(mode, host!, port, Buffer.from(`${head}${'a:b\r\n'.repeat(n)}\r\n`));
    default:
      process.stderr.write('unknown mode\n');
      process.exit(2);
  }
}
void main();
