/**
 * Parsers for the load tools' output. Pure, so they are tested against captured output. Each
 * returns the throughput plus what says the run was sound (errors, non-2xx), and throws
 * BenchError(LINNET_BENCH_PARSE) when the text is not what the tool prints on success.
 */
import { BenchError } from './errors';

export interface LoadOutcome {
  /** Completed operations (requests, messages) per second. */
  readonly rate: number;
  /** Completed operations in the run. */
  readonly ops: number;
  /** Failed operations or socket errors: a run with errors is reported, not silently averaged. */
  readonly errors: number;
}

function fail(tool: string, what: string, text: string): never {
  throw new BenchError('LINNET_BENCH_PARSE', `cannot read ${what} from ${tool} output`, `the output was: ${text.trim().slice(0, 400)}`);
}

/** wrk's summary: "N requests in 1.01s", "Requests/sec: X", optional error lines. */
export function parseWrk(text: string): LoadOutcome {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const ops = /^\s*(\d+) requests in /m.exec(text);
  if (!rate || !ops) fail('wrk', 'Requests/sec', text);
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  // A read "error" is also how wrk counts a server closing a kept-alive connection; count them all:
  // a proxy that drops connections under load must show.
  if (sock) errors += Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) errors += Number(non2xx[1]);
  return { rate: Number(rate[1]), ops: Number(ops[1]), errors };
}

/** h2load: "finished in 1.01s, 8128.00 req/s" and "requests: ... N succeeded, F failed, E errored, T timeout". */
export function parseH2load(text: string): LoadOutcome {
  const fin = /^finished in [\d.]+m?s, ([\d.]+) req\/s/m.exec(text);
  const req = /^requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(text);
  if (!fin || !req) fail('h2load', 'req/s', text);
  const codes = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(text);
  const bad = codes ? Number(codes[3]) + Number(codes[4]) : 0;
  return { rate: Number(fin[1]), ops: Number(req[1]), errors: Number(req[2]) + Number(req[3]) + Number(req[4]) + bad };
}

export interface IperfOutcome {
  /** Received bits per second (what crossed the path end to end). */
  readonly bitsPerSecond: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** iperf3 -J: end.sum_received (the receiver's count, so buffered-but-undelivered bytes do not count). */
export function parseIperf3(json: string): IperfOutcome {
  let d: { error?: string; end?: { sum_received?: { bits_per_second?: number; bytes?: number; seconds?: number } } };
  try {
    d = JSON.parse(json);
  } catch {
    fail('iperf3', 'JSON', json);
  }
  if (d.error) throw new BenchError('LINNET_BENCH_TOOL_FAILED', `iperf3: ${d.error}`, 'is the iperf3 server listening, and reachable on this path?');
  const r = d.end?.sum_received;
  if (!r || typeof r.bits_per_second !== 'number') fail('iperf3', 'end.sum_received', json);
  return { bitsPerSecond: r.bits_per_second, bytes: r.bytes ?? NaN, seconds: r.seconds ?? NaN };
}

/** redis-benchmark --csv: a header line then one quoted line per test; returns test → rps. */
export function parseRedisBenchmarkCsv(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split(/\r?\n/).filter((l) => l.startsWith('"'));
  const header = lines.findIndex((l) => l.startsWith('"test"'));
  if (header < 0) fail('redis-benchmark', 'the CSV header', text);
  const cols = splitCsv(lines[header]!);
  const rpsCol = cols.indexOf('rps');
  if (rpsCol < 0) fail('redis-benchmark', 'the rps column', text);
  for (const line of lines.slice(header + 1)) {
    const cells = splitCsv(line);
    const rps = Number(cells[rpsCol]);
    if (cells[0] && Number.isFinite(rps)) out.set(cells[0], rps);
  }
  if (out.size === 0) fail('redis-benchmark', 'any result line', text);
  return out;
}

function splitCsv(line: string): string[] {
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}

/** Our own generators (bench/apps) print one JSON line: {"ops", "seconds", "errors", ...}. */
export function parseAppReport<T extends { ops: number; seconds: number; errors: number }>(text: string, tool: string): T & LoadOutcome {
  const line = text.split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) fail(tool, 'its JSON report', text);
  let r: T;
  try {
    r = JSON.parse(line) as T;
  } catch {
    fail(tool, 'its JSON report', text);
  }
  if (typeof r.ops !== 'number' || typeof r.seconds !== 'number' || !(r.seconds > 0)) fail(tool, 'ops and seconds', text);
  return { ...r, rate: r.ops / r.seconds, errors: r.errors ?? 0 };
}
