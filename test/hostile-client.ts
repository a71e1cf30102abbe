/**
 * The hostile client: sends each case of a JSON file (`[{i, b64}]`) on its own connection, half-
 * closes, and reports what came back (status codes, whether the proxy closed).
 *
 *   node hostile-client.js HOST PORT CASES_FILE [CONCURRENCY]
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const [host, portText, file, concText] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(file!, 'utf8')) as { i: number; b64: string }[];
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function one(c: { i: number; b64: string }): Promise<void> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error = '';
    const s = connect({ host: host!, port: Number(portText) });
    const timer = setTimeout(() => {
      error = 'timeout';
      s.destroy();
    }, 8000);
    s.on('connect', () => s.end(Buffer.from(c.b64, 'base64')));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => (error = (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      const reason = /l5d-proxy-error: ([^\r\n]*)/.exec(text)?.[1];
      say({ event: 'case', i: c.i, statuses, reason, bytes: text.length, error });
      resolve();
    });
  });
}

async function main(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) await one(cases[next++]!);
  };
  await Promise.all(Array.from({ length: Number(concText ?? 16) }, worker));
  say({ event: 'done', n: cases.length });
}
void main();
