/**
 * Flame graphs of a proxy from `perf` samples, written by hand like the bench's charts (no
 * FlameGraph scripts: Debian does not package them). perf sees what a V8 profile cannot: the
 * kernel's share (the socket writes and reads, the peer's wake-up) beside Node's C++ and our
 * JavaScript, named through the proxy's `--perf-basic-prof` map. Pure: text in, text out.
 *
 * Input: `perf script -F comm,pid,tid,ip,sym,dso` — per sample a header line `comm pid/tid`, then
 * one frame per line, leaf first (`<ip> <symbol> (<dso>)`), then a blank line.
 */
import { BenchError } from './errors';
import { esc } from './svg';

/** Where a frame's code lives; the colour, and the self-time table, go by it. */
export type FrameKind = 'kernel' | 'ours' | 'node-js' | 'deps-js' | 'v8-builtin' | 'native' | 'libc' | 'other';

export const KIND_LABEL: Record<FrameKind, string> = {
  kernel: 'kernel',
  ours: "Linnet's JavaScript",
  'node-js': "Node's JavaScript",
  'deps-js': 'JavaScript of npm packages',
  'v8-builtin': 'V8 builtins and stubs',
  native: 'node binary (V8, Node, libuv, OpenSSL C++)',
  libc: 'libc and other libraries',
  other: 'unknown',
};

const KIND_COLOR: Record<FrameKind, string> = {
  kernel: '#e6a04e',
  ours: '#4c9be8',
  'node-js': '#7fc97f',
  'deps-js': '#beaed4',
  'v8-builtin': '#f2d15c',
  native: '#e8736c',
  libc: '#c9c9c9',
  other: '#eeeeee',
};

export interface Frame {
  readonly name: string;
  readonly kind: FrameKind;
}

/** Stacks, root first, and how many samples ended in each. */
export interface Folded {
  readonly stacks: Map<string, number>;
  readonly frames: Map<string, Frame>;
  readonly samples: number;
}

const FRAME_LINE = /^\s*([0-9a-f]+)\s+(.*)\s+\(([^()]*)\)$/;
const JIT_MAP = /\/perf-\d+\.map$/;

/**
 * A frame's name and kind. JavaScript frames lose their tier marker (`*` optimised, `^`/`~`
 * baseline, interpreted) so that one function's tiers merge, and keep the file's last two path
 * parts, which say the module (`h1/head.js`) without the checkout path.
 */
export function classify(sym: string, dso: string): Frame {
  if (dso === '[kernel.kallsyms]') return { name: sym, kind: 'kernel' };
  if (JIT_MAP.test(dso)) {
    const js = /^(?:JS|LazyCompile|Function):[*^~]?(.*)$/.exec(sym);
    if (!js) return { name: sym.replace(/^(Builtin|BytecodeHandler|Stub|Handler|RegExp):/, ''), kind: 'v8-builtin' };
    const [fn, file = ''] = splitJs(js[1]!);
    const short = file.split('/').slice(-2).join('/');
    const kind: FrameKind = file.startsWith('node:') ? 'node-js' : file.includes('/node_modules/') ? 'deps-js' : file ? 'ours' : 'other';
    return { name: `${fn || '(anonymous)'} ${short}`.trim(), kind };
  }
  if (dso.endsWith('/node') || dso === 'node') {
    return { name: sym, kind: sym.startsWith('Builtins_') ? 'v8-builtin' : 'native' };
  }
  if (dso === '[unknown]') return { name: sym, kind: 'other' };
  return { name: sym === '[unknown]' ? `[${dso.split('/').pop()}]` : sym, kind: 'libc' };
}

/** `name file:line:col` → [name, file]; a name may hold spaces, the location never does. */
function splitJs(s: string): [string, string] {
  const at = s.lastIndexOf(' ');
  const loc = at >= 0 ? s.slice(at + 1) : s;
  const m = /^(.*?)(?::\d+){1,2}$/.exec(loc);
  if (!m) return [s, ''];
  return [at >= 0 ? s.slice(0, at) : '', m[1]!];
}

export interface FoldOptions {
  /** Only these processes (the proxies' pids); all when absent. */
  readonly pids?: ReadonlySet<number>;
  /** The root frame of a process's stacks; by default its comm and pid. */
  readonly rootOf?: (pid: number, comm: string) => string;
}

export function foldPerfScript(text: string, opts: FoldOptions = {}): Folded {
  const stacks = new Map<string, number>();
  const frames = new Map<string, Frame>();
  let samples = 0;
  let root: string | null = null;
  let chain: string[] = [];
  const finish = () => {
    if (root !== null && chain.length > 0) {
      const key = [root, ...chain.reverse()].join(';');
      stacks.set(key, (stacks.get(key) ?? 0) + 1);
      samples++;
    }
    root = null;
    chain = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      finish();
      continue;
    }
    if (!/^\s/.test(line)) {
      finish();
      const m = /^(.*?)\s+(\d+)(?:\/(\d+))?\s*$/.exec(line);
      if (!m) throw new BenchError('LINNET_BENCH_PARSE', `perf script: a sample header "${line.slice(0, 80)}" is not "comm pid/tid"`, 'run perf script with -F comm,pid,tid,ip,sym,dso');
      const pid = Number(m[2]);
      if (opts.pids && !opts.pids.has(pid)) continue;
      root = opts.rootOf ? opts.rootOf(pid, m[1]!) : `${m[1]} ${pid}`;
      frames.set(root, { name: root, kind: 'other' });
      continue;
    }
    if (root === null) continue;
    const f = FRAME_LINE.exec(line);
    if (!f) throw new BenchError('LINNET_BENCH_PARSE', `perf script: a frame "${line.trim().slice(0, 80)}" is not "<ip> <symbol> (<dso>)"`, 'run perf script with -F comm,pid,tid,ip,sym,dso');
    const frame = classify(f[2]!, f[3]!);
    // `;` separates frames in a folded stack: a symbol that holds one is spelled with `:` instead.
    const id = `${frame.kind}|${frame.name.replace(/;/g, ':')}`;
    frames.set(id, frame);
    chain.push(id);
  }
  finish();
  if (samples === 0) throw new BenchError('LINNET_BENCH_PARSE', 'perf script: no samples of the chosen processes', 'check the pids and that perf recorded with -g on their CPU');
  return { stacks, frames, samples };
}

/** Samples whose leaf frame is of each kind, as shares of all: where the CPU time itself went. */
export function selfShares(f: Folded): Record<FrameKind, number> {
  const out = Object.fromEntries(Object.keys(KIND_LABEL).map((k) => [k, 0])) as Record<FrameKind, number>;
  for (const [stack, n] of f.stacks) {
    const leaf = stack.slice(stack.lastIndexOf(';') + 1);
    out[f.frames.get(leaf)?.kind ?? 'other'] += n / f.samples;
  }
  return out;
}

interface Node {
  readonly id: string;
  count: number;
  readonly children: Map<string, Node>;
}

function tree(f: Folded): Node {
  const top: Node = { id: '', count: 0, children: new Map() };
  for (const [stack, n] of f.stacks) {
    top.count += n;
    let at = top;
    for (const id of stack.split(';')) {
      let next = at.children.get(id);
      if (!next) at.children.set(id, (next = { id, count: 0, children: new Map() }));
      next.count += n;
      at = next;
    }
  }
  return top;
}

const W = 1200;
const ROW = 16;
const TOP = 56;
const LEGEND = 22;
/** Frames narrower than this many pixels are left out (their samples stay in their parent's width). */
const MIN_PX = 0.5;
const CHAR_PX = 6.6;

/**
 * The flame graph: root at the bottom, each frame as wide as the samples it is on, children
 * sorted by name (so two graphs line up), a tooltip with samples and share; the legend gives
 * each kind's self time.
 */
export function flameGraphSvg(f: Folded, title: string, subtitle: string): string {
  const root = tree(f);
  const rects: string[] = [];
  let depth = 0;
  const scale = W / root.count;
  const walk = (n: Node, x: number, level: number) => {
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
      const w = c.count * scale;
      if (w >= MIN_PX) {
        depth = Math.max(depth, level + 1);
        rects.push(rect(f.frames.get(c.id)!, cx, level, w, c.count, f.samples));
        walk(c, cx, level + 1);
      }
      cx += w;
    }
  };
  walk(root, 0, 0);
  // Rows were laid out from 0 upwards; the graph grows from the bottom, the legend under it.
  const base = TOP + depth * ROW;
  const shares = selfShares(f);
  const kinds = (Object.keys(KIND_LABEL) as FrameKind[]).filter((k) => shares[k] >= 0.0005).sort((a, b) => shares[b] - shares[a]);
  let lx = 0;
  let ly = base + 8;
  const legendSvg = kinds
    .map((k) => {
      const text = `${KIND_LABEL[k]} ${(shares[k] * 100).toFixed(1)}%`;
      const width = 22 + text.length * CHAR_PX;
      if (lx > 0 && lx + width > W) {
        lx = 0;
        ly += LEGEND;
      }
      const g = `<rect x="${lx.toFixed(1)}" y="${ly}" width="12" height="12" fill="${KIND_COLOR[k]}"/><text x="${(lx + 16).toFixed(1)}" y="${ly + 10}">${esc(text)}</text>`;
      lx += width;
      return g;
    })
    .join('');
  const height = ly + LEGEND;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="monospace" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="0" y="18" font-size="15" font-family="sans-serif">${esc(title)}</text>`,
    `<text x="0" y="38" font-family="sans-serif" fill="#555">${esc([subtitle, `${f.samples} samples`, 'self time by kind below'].filter(Boolean).join(' · '))}</text>`,
    `<g transform="translate(0 ${base}) scale(1 -1)">`,
    ...rects,
    '</g>',
    legendSvg,
    '</svg>',
  ].join('\n');
}

function rect(fr: Frame, x: number, level: number, w: number, count: number, samples: number): string {
  const pct = ((count / samples) * 100).toFixed(2);
  const y = level * ROW;
  const fits = Math.floor((w - 4) / CHAR_PX);
  const label = fits >= 3 ? (fr.name.length <= fits ? fr.name : `${fr.name.slice(0, fits - 2)}..`) : '';
  // The group is flipped so rows grow upwards; text is flipped back where it is drawn.
  return (
    `<g data-kind="${fr.kind}"><title>${esc(fr.name)} (${count} samples, ${pct}%)</title>` +
    `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW - 1}" fill="${KIND_COLOR[fr.kind]}"/>` +
    (label ? `<text transform="scale(1 -1)" x="${(x + 2).toFixed(2)}" y="${-(y + 4)}">${esc(label)}</text>` : '') +
    '</g>'
  );
}
