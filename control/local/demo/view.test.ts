import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Stat } from './stats';
import { formatMs, formatPercent, formatRps, renderFrame, renderScreen, renderSummary, renderTable, verdict } from './view';

const web: Stat = { name: 'web', meshed: 2, pods: 2, successRate: 0.9756, rps: 10.04, p50: 3.64, p95: 14.2, p99: 19.6, tcpConn: 4, requests: 200 };
const web0: Stat = { name: 'web0', meshed: 1, pods: 1, successRate: 1, rps: 5, p50: 3, p95: 9, p99: 12, tcpConn: 2, requests: 100 };
const traffic: Stat = { name: 'traffic', meshed: 1, pods: 1, rps: 0, tcpConn: 8, requests: 0 };

test('formatting as linkerd viz stat prints it', () => {
  assert.equal(formatPercent(0.9756), '97.56%');
  assert.equal(formatPercent(undefined), '-');
  assert.equal(formatRps(10.04), '10.0rps');
  assert.equal(formatMs(3.64), '3.6ms');
  assert.equal(formatMs(14.6), '15ms');
  assert.equal(formatMs(undefined), '-');
});

test('the table has the stat columns, a row per workload, pods indented, equal widths', () => {
  const lines = renderTable([{ stat: web }, { stat: web0, indent: true }, { stat: traffic }]).split('\n');
  assert.match(lines[0]!, /^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN$/);
  assert.match(lines[1]!, /^web\s+2\/2\s+97\.56%\s+10\.0rps\s+3\.6ms\s+14ms\s+20ms\s+4$/);
  assert.match(lines[2]!, /^ {2}web0\s+1\/1\s+100\.00%\s+5\.0rps\s+3\.0ms\s+9\.0ms\s+12ms\s+2$/);
  assert.match(lines[3]!, /^traffic\s+1\/1\s+-\s+0\.0rps\s+-\s+-\s+-\s+8$/);
  for (const l of lines) assert.equal(l.length, lines[0]!.length);
  const screen = renderScreen([{ stat: web }], 12_300, 2, ['emoji0: proxy /metrics unreachable']).split('\n');
  assert.match(screen[0]!, /12s .* last 2\.0s/);
  assert.match(screen.at(-1)!, /unreachable/);
});

test('verdict: traffic everywhere, mTLS everywhere, success rate above the threshold', () => {
  const emoji: Stat = { ...web, name: 'emoji', successRate: 0.99, requests: 100 };
  const good = [
    { stat: web, inboundTls: 200, clientTls: 0 },
    { stat: emoji, inboundTls: 0, clientTls: 4 }, // the client proxy's mTLS connections count too
  ];
  assert.deepEqual(verdict(good, 5, 5, 0.9), { ok: true, problems: [] });

  const v = verdict(
    [
      { stat: { ...web, successRate: 0.5 }, inboundTls: 10, clientTls: 0 },
      { stat: { ...emoji, requests: 0, successRate: undefined }, inboundTls: 0, clientTls: 0 },
    ],
    4,
    5,
    0.9,
  );
  assert.equal(v.ok, false);
  assert.deepEqual(v.problems, [
    'only 4/5 proxies were ready',
    'emoji: no requests reached it',
    'emoji: no mTLS seen (no tls="true" on its inbound metrics nor on the client\'s connections to it)',
    'success rate 50.00% is below 90.00%',
  ]);
  // Weighted by requests: 200 at 97.56% and 100 at 80% is 91.7% overall.
  assert.equal(verdict([{ stat: web, inboundTls: 1, clientTls: 0 }, { stat: { ...emoji, successRate: 0.8 }, inboundTls: 1, clientTls: 0 }], 5, 5, 0.92).ok, false);
  assert.equal(verdict([{ stat: web, inboundTls: 1, clientTls: 0 }, { stat: { ...emoji, successRate: 0.8 }, inboundTls: 1, clientTls: 0 }], 5, 5, 0.91).ok, true);
});

test('summary says where mTLS was seen and the result', () => {
  const results = [
    { stat: web, inboundTls: 200, clientTls: 0 },
    { stat: { ...web, name: 'emoji' }, inboundTls: 0, clientTls: 4 },
  ];
  const text = renderSummary([{ stat: web }], results, 30_000, verdict(results, 5, 5, 0.9));
  assert.match(text, /^summary after 30\.0s/);
  assert.match(text, /mTLS web: tls="true" on 200 inbound/);
  assert.match(text, /mTLS emoji: client proxy opened 4 mTLS connections/);
  assert.match(text, /result: OK/);
  const bad = renderSummary([], [{ stat: { ...web, requests: 0 }, inboundTls: 0, clientTls: 0 }], 1000, verdict([{ stat: { ...web, requests: 0 }, inboundTls: 0, clientTls: 0 }], 1, 1, 0.9));
  assert.match(bad, /result: FAILED\n {2}web: no requests/);
});

test('frames: in place on a terminal (home, each line erased to its end, the rest below erased), one after another otherwise', () => {
  const long = renderScreen([{ stat: web }, { stat: web0, indent: true }, { stat: traffic }], 2_000, 2);
  const short = renderScreen([{ stat: web }], 4_000, 2);
  // Not a terminal: the plain scrolling form, no escape sequence at all.
  assert.equal(renderFrame(short, false), `${short}\n\n`);
  assert.doesNotMatch(renderFrame(long, false, true), /\x1b/);
  // A terminal: the first frame clears the screen once; later ones never do (no scrollback push).
  const first = renderFrame(long, true, true);
  const next = renderFrame(short, true);
  assert.ok(first.startsWith('\x1b[2J\x1b[H'));
  assert.ok(next.startsWith('\x1b[H'));
  assert.doesNotMatch(next, /\x1b\[2J/);
  // Every line ends erasing what a longer previous line left; the frame ends erasing below it.
  const lines = next.slice('\x1b[H'.length).split('\n');
  assert.equal(lines.at(-1), '\x1b[J');
  for (const l of lines.slice(0, -1)) assert.ok(l.endsWith('\x1b[K'), JSON.stringify(l));
  assert.deepEqual(lines.slice(0, -1).map((l) => l.slice(0, -3)), short.split('\n'));
  // Played on a virtual screen, the short frame after the long one leaves exactly the short one.
  assert.deepEqual(playOnScreen([first, next]), short.split('\n'));
});

/** A tiny terminal: enough of ESC[H, ESC[2J, ESC[K, ESC[J and newlines to check what stays on screen. */
function playOnScreen(writes: string[]): string[] {
  let rows: string[] = [''];
  let r = 0;
  let c = 0;
  for (const w of writes) {
    for (let i = 0; i < w.length; i++) {
      if (w.startsWith('\x1b[2J', i)) {
        rows = [''];
        i += 3;
      } else if (w.startsWith('\x1b[H', i)) {
        r = 0;
        c = 0;
        i += 2;
      } else if (w.startsWith('\x1b[K', i)) {
        rows[r] = rows[r]!.slice(0, c);
        i += 2;
      } else if (w.startsWith('\x1b[J', i)) {
        rows[r] = rows[r]!.slice(0, c);
        rows.length = r + 1;
        i += 2;
      } else if (w[i] === '\n') {
        r++;
        c = 0;
        rows[r] ??= '';
      } else {
        const row = rows[r]!.padEnd(c);
        rows[r] = row.slice(0, c) + w[i] + row.slice(c + 1);
        c++;
      }
    }
  }
  while (rows.length > 0 && rows.at(-1) === '') rows.pop();
  return rows;
}
