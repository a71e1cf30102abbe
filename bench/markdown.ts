/**
 * The Markdown report: throughput against the same run's direct baseline, constant-rate latency
 * with the latency each proxy adds over direct, and the proxies' cost. Pure: results in, text out.
 */
import { mib, ms, num, pct, si, sig } from './format';
import { PEER_MESH_TARGET, PERCENTILES, TARGET_LABEL, type BenchResults, type ScenarioResult, type TargetId, type TargetResult } from './schema';

const ORDER: TargetId[] = ['direct', 'linnet', 'linnet-2w', 'linnet-tap', 'linnet-policy', 'linnet-mesh', 'linnet-routes', 'haproxy-mesh', 'nginx', 'haproxy'];

function targetsIn(scenarios: readonly ScenarioResult[]): TargetId[] {
  const seen = new Set(scenarios.flatMap((s) => s.targets.map((t) => t.target)));
  return ORDER.filter((t) => seen.has(t));
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`)].join('\n');
}

function throughputCell(t: TargetResult | undefined, unit: string): string {
  if (!t) return '';
  if (t.status !== 'ok' || !t.throughput) return t.status === 'skipped' ? 'skipped' : 'failed';
  const s = t.throughput;
  let cell = `${si(s.median)} ${unit} ±${pct(num(s.spreadPct) / 2)}`;
  const ratios: string[] = [];
  if (t.target !== 'direct' && Number.isFinite(num(t.vsDirect))) ratios.push(`${sig(num(t.vsDirect))}×`);
  if (Number.isFinite(num(t.vsPeerMesh))) ratios.push(`${sig(num(t.vsPeerMesh))}× pair`);
  if (ratios.length) cell += ` (${ratios.join(', ')})`;
  if (t.errors) cell += ` ⚠ ${t.errors} errors`;
  return cell;
}

export function throughputTable(results: BenchResults): string {
  const scen = results.scenarios.filter((s) => s.kind === 'throughput');
  const targets = targetsIn(scen);
  const rows = scen.map((s) => [s.title, ...targets.map((id) => (s.status === 'skipped' ? (id === 'direct' ? 'skipped' : '') : throughputCell(s.targets.find((t) => t.target === id), s.unit)))]);
  return table(['scenario', ...targets.map((t) => TARGET_LABEL[t])], rows);
}

export function latencyTable(s: ScenarioResult): string {
  const rows = s.targets.map((t) => {
    if (t.status !== 'ok' || !t.latencyMs) return [TARGET_LABEL[t.target], ...PERCENTILES.map(() => t.status), '–'];
    const cells = PERCENTILES.map((p) => {
      const st = t.latencyMs![p];
      const added = t.addedMs?.[p];
      const plus = t.target !== 'direct' && Number.isFinite(num(added)) ? ` (${num(added) >= 0 ? '+' : ''}${sig(num(added))})` : '';
      return `${ms(st.median)}${plus} ±${pct(num(st.spreadPct) / 2)}`;
    });
    return [TARGET_LABEL[t.target], ...cells, si(t.achievedRate?.median)];
  });
  return table(['target', ...PERCENTILES.map((p) => `${p} (added over direct)`), 'achieved req/s'], rows);
}

/**
 * Under a latency table: each meshed Linnet target against the peer mesh baseline (the haproxy
 * pair) at every percentile, median minus median of the same run; empty when either is missing.
 */
export function peerMeshLatencyLine(s: ScenarioResult): string {
  const lines: string[] = [];
  for (const t of s.targets) {
    if (t.status !== 'ok' || !t.overPeerMeshMs) continue;
    const cells = PERCENTILES.map((p) => {
      const v = num(t.overPeerMeshMs![p]);
      return `${p} ${Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${sig(v)} ms` : '–'}`;
    });
    lines.push(`${TARGET_LABEL[t.target]} against ${TARGET_LABEL[PEER_MESH_TARGET]} (median minus median, same run): ${cells.join(', ')}.`);
  }
  return lines.join('\n\n');
}

const kib = (bytes: number | null | undefined) => `${sig(num(bytes) / 1024)} KiB`;

/** The soak: per path, what it carried (and failed), and how its proxies' memory moved after the first minute. */
export function soakTable(s: ScenarioResult): string {
  const rows = s.targets.map((t) => {
    const k = t.soak;
    if (t.status !== 'ok' || !k) return [TARGET_LABEL[t.target], `${t.status}: ${t.reason ?? ''}`, '', '', '', ''];
    const g = k.growth;
    const kinds = Object.entries(k.kinds)
      .map(([name, v]) => `${name} ${si(v.ops)}${v.errors ? ` (${v.errors} failed)` : ''}`)
      .join(', ');
    return [
      TARGET_LABEL[t.target],
      `${si(k.ops)} of ${si(k.sent)} sent at ${si(num(t.achievedRate?.median))} req/s: ${kinds}${t.errors ? ` ⚠ ${t.errors} errors` : ', no errors'}`,
      `${mib(g.baselineRss)} → ${mib(g.finalRss)}`,
      `${pct(g.rssGrowthPct, true)} (peak ${pct(g.rssPeakGrowthPct, true)}, second half ${pct(g.lateRssGrowthPct, true)})`,
      `${mib(g.baselinePrivate)} → ${mib(g.finalPrivate)} (${pct(g.privateGrowthPct, true)})`,
      t.cost ? sig(num(t.cost.cpuSecondsPer1k.median)) : '–',
    ];
  });
  const base = s.targets.find((t) => t.soak)?.soak?.baselineAtS;
  return table(['path', 'requests answered', `RSS at ${base ?? '?'} s → end`, 'RSS growth', 'private memory (growth)', 'CPU s per 1k'], rows);
}

/** Idle connections: memory per connection per proxy, with the connections checked at both ends. */
export function idleConnsTable(s: ScenarioResult): string {
  const rows = s.targets.map((t) => {
    const c = t.idleConns;
    if (t.status !== 'ok' || !c) return [TARGET_LABEL[t.target], `${t.status}: ${t.reason ?? ''}`, '', '', '', ''];
    const vs = c.vsHaproxy !== undefined && Number.isFinite(num(c.vsHaproxy)) ? `${sig(num(c.vsHaproxy))}×` : t.target === 'haproxy' ? '1×' : '–';
    return [
      TARGET_LABEL[t.target],
      `${si(c.heldAtClient)} / ${si(c.heldAtProxy)} of ${si(c.connections)}${t.errors ? ` ⚠ ${t.errors} run(s) failed` : ''}`,
      `${kib(c.perConnectionPrivateBytes.median)} ±${pct(num(c.perConnectionPrivateBytes.spreadPct) / 2)}`,
      `${kib(c.perConnectionRssBytes.median)} ±${pct(num(c.perConnectionRssBytes.spreadPct) / 2)}`,
      `${mib(c.beforePrivateBytes.median)} → ${mib(c.heldPrivateBytes.median)}`,
      vs,
    ];
  });
  return table(['proxy', 'held (client / proxy)', 'private per connection', 'RSS per connection', 'private before → held', 'private vs haproxy'], rows);
}

const SOAK_TEXT =
  'The same constant open-loop load through each meshed path in turn, mixed as a sidecar sees it: half HTTP/1.1 over 16 keep-alive connections, a fifth HTTP/1.1 on a new connection per request, the rest gRPC unary calls over a channel replaced every 10 s; a request unanswered within 10 s, or at the end, is an error. Both proxies\' memory together (Linnet\'s outbound and inbound proxies; the two haproxies) is read from /proc/<pid>/smaps_rollup every few seconds. Growth is from the first sample after the first minute (which fills pools, caches and the heap) to the last; peak is the highest sample after that minute; second half is the growth over the second half of the time after that minute, where a heap still settling has flattened and a leak keeps its slope. The issue\'s target: RSS growth under 5%.';

const IDLE_TEXT =
  'Each proxy, restarted fresh (allocators keep what an earlier run freed, and would reuse it), first opens and closes a few connections; its memory is read; then the client opens the connections, sends one request on each, reads the response and holds them idle; after a short settle the memory is read again, the kernel asked how many client connections the proxy holds (ss), and the client how many are still open. Per connection = (held − before) / connections. nginx allocates its connection structures for worker_connections at start, so part of its cost per connection is in its "before". Each proxy gets room for the connections (settings below); the issue\'s target: Linnet\'s private memory per connection at most 2× haproxy\'s.';

export function costTable(results: BenchResults): string {
  const rows: string[][] = [];
  for (const s of results.scenarios) {
    for (const t of s.targets) {
      if (t.status !== 'ok' || !t.cost) continue;
      const per = s.unit === 'Gbit/s' ? 'CPU s per GB' : 'CPU s per 1k ops';
      const held = t.cost.privateBytes === undefined ? '–' : `${mib(t.cost.privateBytes)} / ${mib(t.cost.pssBytes ?? NaN)}`;
      rows.push([s.title, TARGET_LABEL[t.target], `${sig(num(t.cost.cpuSecondsPer1k.median))} ${per} ±${pct(num(t.cost.cpuSecondsPer1k.spreadPct) / 2)}`, mib(t.cost.peakRssBytes), held]);
    }
  }
  return table(['scenario', 'proxy', 'CPU (user+sys, all threads)', 'peak RSS', 'private / PSS at the end'], rows);
}

export function skippedList(results: BenchResults): string {
  const lines: string[] = [];
  for (const s of results.scenarios) {
    if (s.status !== 'ok') lines.push(`- ${s.title}: ${s.status}: ${s.reason ?? ''}`);
    for (const t of s.targets) if (t.status !== 'ok') lines.push(`- ${s.title} / ${TARGET_LABEL[t.target]}: ${t.status}: ${t.reason ?? ''}`);
  }
  return lines.join('\n');
}

function hasPeerMesh(results: BenchResults): boolean {
  return results.scenarios.some((s) => s.targets.some((t) => t.target === PEER_MESH_TARGET));
}

const PEER_MESH_TEXT =
  'Peer mesh baseline (haproxy pair): what a mesh of two off-the-shelf proxies costs on the same path: a haproxy 2.6 beside the client (the load pod, plaintext in on 127.0.0.1, as an app talks to its sidecar) and one beside the server (the app pod), 1 thread each, TLS 1.3 between them with a client certificate that the server side requires and verifies (one CA, ECDSA P-256 leaves), HTTP/2 (ALPN h2) over pooled connections (`http-reuse always`), HTTP/1.1 to the app for HTTP/1.1 and h2 for gRPC. Both haproxies run on the same core as Linnet\'s two meshed proxies. Linnet\'s own iptables leave both of its ports alone (checked after each scenario), and before each scenario it is checked: a TLS probe of the server side (TLS 1.3, h2, refused without a client certificate) and requests read back from both haproxies\' counters (HTTP/2 streams over TLS between them).';

/** The whole report. `charts` are file names (relative to the report) to link. */
export function renderMarkdown(results: BenchResults, charts: readonly { title: string; file: string }[] = []): string {
  const st = results.settings;
  const m = results.machine;
  const parts = [
    `# Linnet bench results`,
    '',
    `Run ${results.startedAt} → ${results.finishedAt}, commit \`${results.gitCommit}\`${st.quick ? ' (**--quick smoke run: not figures to quote**)' : ''}.`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${mib(m.memoryBytes)} RAM, Linux ${m.kernel}, Node ${m.node}, load average (1, 5, 15 min) at start ${m.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}${m.loadAvgAtEnd ? `, at the end ${m.loadAvgAtEnd.map((x) => x.toFixed(2)).join(' ')}` : ''} (${m.cpus} would mean the CPUs fully busy).`,
    `Each figure is the median of ${st.runs} run(s) of ${st.durationS}s after a ${st.warmupS}s warm-up that is not counted; ±x% is half the range (max−min) as a share of the median; (n×) is the ratio to direct in the same run${hasPeerMesh(results) ? '; (n× pair), for Linnet meshed, the ratio to the peer mesh baseline in the same run' : ''}. Targets are interleaved within each run so that drift in machine load hits all of them alike.`,
    ...(hasPeerMesh(results) ? [PEER_MESH_TEXT] : []),
    `Pinning: ${st.pinning}`,
    `Command: \`${st.command}\``,
    '',
    '## Throughput (closed loop, maximum)',
    '',
    throughputTable(results),
  ];
  for (const s of results.scenarios.filter((x) => x.kind === 'latency')) {
    parts.push(
      '',
      `## ${s.title}`,
      '',
      `Tool: ${s.tool}. Latency is measured from each request's intended send time (corrected for coordinated omission), so when a path cannot keep up, the queueing shows. The generator sends on a 1 ms timer: up to 1 ms of each figure is its own, the same for every target, and it cancels out of the latency added over direct.`,
      '',
    );
    parts.push(s.status === 'ok' ? latencyTable(s) : `${s.status}: ${s.reason ?? ''}`);
    const vsPair = s.status === 'ok' ? peerMeshLatencyLine(s) : '';
    if (vsPair) parts.push('', vsPair);
  }
  for (const s of results.scenarios.filter((x) => x.kind === 'soak' || x.kind === 'idle-conns')) {
    parts.push('', `## ${s.title}`, '', s.kind === 'soak' ? SOAK_TEXT : IDLE_TEXT, '', `Tool: ${s.tool}.`, '');
    parts.push(s.status === 'ok' ? (s.kind === 'soak' ? soakTable(s) : idleConnsTable(s)) : `${s.status}: ${s.reason ?? ''}`);
    if (s.kind === 'idle-conns') {
      const settings = s.targets.filter((t) => t.idleConns).map((t) => `${TARGET_LABEL[t.target]}: ${t.idleConns!.settings}`);
      if (settings.length) parts.push('', `Settings: ${settings.join('; ')}.`);
    }
    if (s.kind === 'soak') {
      const errs = s.targets.filter((t) => t.soak?.firstErrors?.length).map((t) => `${TARGET_LABEL[t.target]}: ${t.soak!.firstErrors!.join('; ')}`);
      if (errs.length) parts.push('', `First errors: ${errs.join(' — ')}`);
    }
  }
  parts.push(
    '',
    '## Cost per proxy',
    '',
    'Peak RSS is the high-water mark of the resident set (VmHWM) when the scenario ended; it counts the pages of the proxy\'s binary and libraries, which every proxy on a node shares (for Node about 38 MB of its ~55 MB idle RSS). Private (USS) is what one more proxy adds to a node, PSS splits the shared pages among the processes mapping them; both read from /proc/<pid>/smaps_rollup when the scenario ended.',
    '',
    costTable(results),
  );
  const skipped = skippedList(results);
  if (skipped) parts.push('', '## Skipped or failed', '', skipped);
  if (charts.length) parts.push('', '## Charts', '', ...charts.map((c) => `![${c.title}](${c.file})`));
  parts.push('', '## Tools', '', ...results.scenarios.map((s) => `- ${s.title}: ${s.tool}`));
  return parts.join('\n') + '\n';
}
