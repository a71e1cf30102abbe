// The Linnet dashboard: one server-sent event per scrape round (GET /api/events) redraws the
// tables, the uPlot sparklines and the topology; nothing is fetched from outside the viz service.
(function () {
  'use strict';
  const $ = (s) => document.querySelector(s);
  const pct = (v) => (v === undefined || v === null ? '-' : (v * 100).toFixed(2) + '%');
  const rps = (v) => (v === undefined || v === null ? '-' : v.toFixed(1) + 'rps');
  const ms = (v) => (v === undefined || v === null ? '-' : v >= 10 || v === 0 ? Math.round(v) + 'ms' : Number(v.toPrecision(2)) + 'ms');
  // Success below this, or down by more than FALL since the last frame, gets the red mark.
  const LOW = 0.95;
  const FALL = 0.05;
  const lastSuccess = new Map();
  const charts = new Map();
  let source;

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function spark(key, td, xs, ys, color) {
    const opts = {
      width: 120, height: 28, class: 'spark',
      cursor: { show: false }, legend: { show: false }, select: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false } },
      series: [{}, { stroke: color, width: 1.5, spanGaps: true, points: { show: false } }],
    };
    let c = charts.get(key);
    if (c && c.root.isConnected) c.setData([xs, ys]);
    else {
      c = new uPlot(opts, [xs, ys], td);
      charts.set(key, c);
    }
    if (c.root.parentNode !== td) td.appendChild(c.root);
  }

  function workloads(f) {
    const body = $('#workloads tbody');
    // Keep the rows (and their charts) and refill the cells: no flicker, sparklines stay.
    const rows = new Map([...body.querySelectorAll('tr')].map((tr) => [tr.dataset.workload, tr]));
    const seen = new Set();
    for (const r of f.deploy) {
      seen.add(r.name);
      let tr = rows.get(r.name);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.workload = r.name;
        for (const col of ['name', 'meshed', 'success', 'rps', 'p50', 'p95', 'p99', 'tcp']) cell(tr, '', col).dataset.col = col;
        for (const col of ['spark-rps', 'spark-success', 'spark-p99']) cell(tr, '', 'spark').dataset.col = col;
        body.appendChild(tr);
      }
      const traffic = r.requests > 0;
      const set = (col, text) => (tr.querySelector(`[data-col="${col}"]`).textContent = text);
      set('name', r.name);
      set('meshed', `${r.meshed}/${r.pods}`);
      set('success', traffic ? pct(r.successRate) : '-');
      set('rps', traffic ? rps(r.rps) : '-');
      set('p50', traffic ? ms(r.p50) : '-');
      set('p95', traffic ? ms(r.p95) : '-');
      set('p99', traffic ? ms(r.p99) : '-');
      set('tcp', String(r.tcpConn ?? 0));
      const before = lastSuccess.get(r.name);
      const falling = traffic && (r.successRate < LOW || (before !== undefined && before - r.successRate > FALL));
      tr.classList.toggle('falling', falling);
      if (traffic) lastSuccess.set(r.name, r.successRate);
      const s = f.series[r.name] || [];
      const xs = s.map((p) => p.t / 1000);
      spark(r.name + ':rps', tr.querySelector('[data-col="spark-rps"]'), xs, s.map((p) => p.rps ?? null), '#1e88e5');
      spark(r.name + ':sr', tr.querySelector('[data-col="spark-success"]'), xs, s.map((p) => (p.successRate === undefined ? null : p.successRate * 100)), falling ? '#c62828' : '#2e7d32');
      spark(r.name + ':p99', tr.querySelector('[data-col="spark-p99"]'), xs, s.map((p) => p.p99 ?? null), '#8e24aa');
    }
    for (const [name, tr] of rows) if (!seen.has(name)) tr.remove();
    const down = f.deploy.flatMap((r) => (r.down || []).map((d) => `${r.name}: proxy not answering (${d})`));
    $('#down').textContent = down.join('\n');
  }

  function fill(sel, rows, cells) {
    const body = $(sel + ' tbody');
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const [text, cls] of cells(r)) cell(tr, text, cls);
      body.appendChild(tr);
    }
  }

  // A route's latency as the CLI gives it: outbound from the route's coarse buckets, so an upper bound.
  const routeMs = (r, q) => {
    const v = r[q];
    if (v === undefined || v === null) return '-';
    const t = v >= 1000 && v % 1000 === 0 ? v / 1000 + 's' : ms(v);
    if ((r.over || []).includes(q)) return '>' + t;
    return r.direction === 'outbound' && r.latency === 'buckets' ? '≤' + t : t;
  };

  // The routes of every workload (the same rows as `linnet viz routes`), with data attributes to find a row by
  // (data-route-workload: the workloads table's rows own data-workload).
  function routes(rows) {
    const body = $('#routes tbody');
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      Object.assign(tr.dataset, { routeWorkload: r.workload, route: r.route, service: r.service, dir: r.direction === 'outbound' ? 'out' : 'in' });
      const measured = r.requests > 0 && r.classified;
      const cols = [
        ['workload', r.workload],
        ['route', r.route],
        ['service', r.service],
        ['dir', tr.dataset.dir],
        ['success', measured ? pct(r.successRate) : '-', 'success'],
        ['rps', r.requests > 0 ? rps(r.rps) : '-'],
        ['p50', measured ? routeMs(r, 'p50') : '-'],
        ['p95', measured ? routeMs(r, 'p95') : '-'],
        ['p99', measured ? routeMs(r, 'p99') : '-'],
        ['requests', String(r.requests)],
      ];
      for (const [col, text, cls] of cols) cell(tr, text, cls).dataset.col = col;
      tr.classList.toggle('falling', measured && r.successRate < LOW);
      body.appendChild(tr);
    }
  }

  function topology(edges) {
    const svg = $('#topology');
    const NS = 'http://www.w3.org/2000/svg';
    svg.replaceChildren();
    const srcs = [...new Set(edges.map((e) => e.src))];
    const dsts = [...new Set(edges.map((e) => e.dst))].filter((d) => !srcs.includes(d));
    const pos = new Map();
    const place = (names, x) => names.forEach((n, i) => pos.set(n, { x, y: ((i + 1) * 240) / (names.length + 1) }));
    place(srcs, 90);
    place(dsts, 420);
    const el = (name, attrs, text) => {
      const e = document.createElementNS(NS, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    for (const e of edges) {
      const a = pos.get(e.src), b = pos.get(e.dst);
      if (!a || !b) continue;
      el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: e.secured ? '#2e7d32' : '#c62828', 'stroke-width': 2, 'data-edge': `${e.src}->${e.dst}` });
      el('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, 'text-anchor': 'middle', fill: e.secured ? '#2e7d32' : '#c62828' }, e.secured ? '√ mTLS' : '× ' + (e.msg || 'not secured'));
    }
    for (const [name, p] of pos) {
      el('circle', { cx: p.x, cy: p.y, r: 22, fill: '#e3f2fd', stroke: '#1e88e5', 'data-node': name });
      el('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle' }, name);
    }
  }

  function render(f) {
    workloads(f);
    fill('#pods', f.pods, (r) => [[r.name], [r.workload || '-'], [r.meshed ? '✔' : '✘ down'], [r.requests > 0 ? pct(r.successRate) : '-', 'success'], [r.requests > 0 ? rps(r.rps) : '-'], [r.requests > 0 ? ms(r.p99) : '-']]);
    fill('#edges', f.edges, (e) => [[e.src], [e.dst], [e.secured ? '√' : '× ' + e.msg], [String(e.connections)]]);
    routes(f.routes);
    topology(f.edges);
    const sel = $('#tap-workload');
    const names = f.deploy.map((r) => r.name);
    if ([...sel.options].map((o) => o.value).join() !== names.join()) {
      const keep = sel.value;
      sel.replaceChildren(...names.map((n) => new Option(n, n)));
      if (names.includes(keep)) sel.value = keep;
    }
    $('#updated').textContent = 'updated ' + new Date(f.at).toLocaleTimeString();
  }

  function connect() {
    if (source) source.close();
    source = new EventSource('/api/events?window=' + encodeURIComponent($('#window').value));
    source.addEventListener('frame', (ev) => {
      $('#status').textContent = 'live';
      $('#status').className = 'status live';
      render(JSON.parse(ev.data));
    });
    source.onerror = () => {
      $('#status').textContent = 'reconnecting…';
      $('#status').className = 'status lost';
    };
  }

  // Live tap: lines from GET /api/tap (server-sent events), when the service has tap.
  let tap;
  function startTap() {
    if (tap) tap.close();
    const q = new URLSearchParams({ resource: 'deploy/' + $('#tap-workload').value });
    if ($('#tap-path').value) q.set('path', $('#tap-path').value);
    if ($('#tap-method').value) q.set('method', $('#tap-method').value.toUpperCase());
    const out = $('#tap');
    out.textContent = '';
    tap = new EventSource('/api/tap?' + q);
    $('#tap-start').disabled = true;
    $('#tap-stop').disabled = false;
    $('#tap-status').textContent = 'tapping…';
    tap.addEventListener('line', (ev) => {
      out.textContent += JSON.parse(ev.data).line + '\n';
      const lines = out.textContent.split('\n');
      if (lines.length > 500) out.textContent = lines.slice(-500).join('\n');
      out.scrollTop = out.scrollHeight;
    });
    tap.addEventListener('tap-error', (ev) => ($('#tap-status').textContent = JSON.parse(ev.data).error));
    tap.onerror = () => stopTap('tap ended');
  }
  function stopTap(why) {
    if (tap) tap.close();
    tap = undefined;
    $('#tap-start').disabled = false;
    $('#tap-stop').disabled = true;
    $('#tap-status').textContent = typeof why === 'string' ? why : 'stopped';
  }
  $('#tap-start').addEventListener('click', startTap);
  $('#tap-stop').addEventListener('click', stopTap);
  $('#window').addEventListener('change', connect);
  connect();
})();
