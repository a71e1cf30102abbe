/**
 * A small parser for the Prometheus text exposition format (version 0.0.4), enough to read the
 * proxy's /metrics in tests and in the demo: every sample with its labels and value. HELP/TYPE
 * lines are kept as metadata; timestamps are accepted and ignored.
 */
import { LinnetError } from './errors';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** metric family name → TYPE (counter, gauge, histogram, summary, untyped). */
  readonly types: ReadonlyMap<string, string>;
}

export class PromTextError extends LinnetError {
  constructor(line: number, message: string) {
    super('LINNET_PROM_TEXT_INVALID', `metrics text line ${line}: ${message}`, {
      hint: 'the /metrics body is not Prometheus text format 0.0.4; check what the server sent',
    });
    this.name = 'PromTextError';
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, line: number): number {
  // As Prometheus (Go's ParseFloat): NaN and Inf in any letter case; prom-client writes "Nan".
  switch (text.toLowerCase()) {
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  const v = Number(text);
  // Number('') is 0 and Number('0x1f') is 31: neither is a Prometheus float.
  if (text === '' || Number.isNaN(v) || /^[+-]?0x/i.test(text)) throw new PromTextError(line, `bad value ${JSON.stringify(text)}`);
  return v;
}

/** Reads `{a="1",b="x\"y"}` starting at `s[i] === '{'`; returns the labels and the index after `}`. */
function parseLabels(s: string, start: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return [labels, i + 1];
    const m = LABEL_NAME.exec(s.slice(i));
    if (!m) throw new PromTextError(line, `bad label name at column ${i + 1}`);
    const key = m[0];
    i += key.length;
    while (s[i] === ' ') i++;
    if (s[i] !== '=') throw new PromTextError(line, `expected = after label ${key}`);
    i++;
    while (s[i] === ' ') i++;
    if (s[i] !== '"') throw new PromTextError(line, `expected " to open the value of label ${key}`);
    i++;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new PromTextError(line, `unterminated value of label ${key}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new PromTextError(line, `bad escape \\${n ?? ''} in label ${key}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (Object.prototype.hasOwnProperty.call(labels, key)) throw new PromTextError(line, `label ${key} repeated`);
    labels[key] = value;
    while (s[i] === ' ') i++;
    if (s[i] === ',') {
      i++;
      continue;
    }
    if (s[i] === '}') return [labels, i + 1];
    throw new PromTextError(line, `expected , or } after label ${key}`);
  }
}

export function parsePromText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.replace(/\r$/, '');
    const s = raw.trim();
    if (s === '') continue;
    if (s.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(s);
      if (m) types.set(m[1]!, m[2]!);
      continue; // HELP and plain comments carry nothing a test needs.
    }
    const m = NAME.exec(s);
    if (!m) throw new PromTextError(n + 1, `bad metric name in ${JSON.stringify(s.slice(0, 40))}`);
    const name = m[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (s[i] === '{') [labels, i] = parseLabels(s, i, n + 1);
    const rest = s.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new PromTextError(n + 1, `expected a value after ${name}`);
    samples.push({ name, labels: Object.freeze(labels), value: parseValue(rest[0]!, n + 1) });
  }
  return { samples, types };
}

/** True when every label in `want` is present in `labels` with that value. */
export function matches(labels: Labels, want: Labels = {}): boolean {
  for (const [k, v] of Object.entries(want)) if (labels[k] !== v) return false;
  return true;
}

/** The samples of one metric name whose labels include `want`. */
export function select(samples: readonly Sample[], name: string, want: Labels = {}): Sample[] {
  return samples.filter((x) => x.name === name && matches(x.labels, want));
}

/**
 * The sum over matching samples (0 when none): e.g. `tcp_open_total` for one target_addr across
 * every other label (tls, peer, worker...), which is what a test means by "the count".
 */
export function sum(samples: readonly Sample[], name: string, want: Labels = {}): number {
  let total = 0;
  for (const x of select(samples, name, want)) total += x.value;
  return total;
}
