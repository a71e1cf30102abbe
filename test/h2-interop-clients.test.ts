/**
 * The HTTP/2 engine (proxy/protocol/h2/) against peers nobody here wrote, on loopback, each peer a
 * real process: curl --http2-prior-knowledge, nghttp, h2load (nghttp2-client), nghttpd
 * (nghttp2-server, --no-tls) and Python's h2 (python3-h2: test/support/h2-peers/client.py and
 * server.py). Two arrangements:
 *
 * - the proxy (the outbound stack on loopback, as http2-loopback runs it) between an independent
 *   client and an independent server: both of the engine's roles at once;
 * - our H2Connection alone: a small server on it (ourServer below, the same routes as server.py)
 *   for the independent clients, and our client role (ourClient) against nghttpd and server.py.
 *
 * This file: the independent clients; the peers and helpers are in test/support/h2-interop-peers.ts.
 *
 * Every check compares bytes (SHA-256 of bodies made by gen(), the same bytes Python makes),
 * header values, trailers and reset codes, never only an exit status. Python's h2 also raises
 * on any frame of ours that breaks a window, a table size or the frame rules, which the checks
 * then see as a missing response. Skipped when the peers are not installed
 * (.ci/setup-debian installs them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { skip, SIZES, BIG_HEADER, gen, sha, bigValue, sameBodies, pass, run, type PyResult, pyClient, hv, ours, targets, url, tmp, interopPeers } from './support/h2-interop-peers';

interopPeers();

describe('independent clients: curl, nghttp, h2load, Python h2', { skip }, () => {
  test('bodies of 0, 1, 16383, 16384, 16385 and 1 MiB+1 both ways, by SHA-256', { timeout: 120_000 }, async () => {
    for (const t of targets) {
      for (const n of SIZES) {
        const want = sha(gen(n, 'down'));
        // curl: download, then upload (echoed back by every target).
        const o = tmp('curl-body');
        const d = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', o, url(t, `/bytes/${n}`)]);
        assert.equal(d.code, 0, `curl ${t.name} ${n}: ${d.stderr}`);
        assert.equal(sha(readFileSync(o)), want, `curl download ${n} via ${t.name}`);
        const up = gen(n, `up${n}`);
        writeFileSync(tmp('up'), up);
        const u = await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', `@${tmp('up')}`, '-D', tmp('curl-h'), '-o', o, url(t, '/echo')]);
        assert.equal(u.code, 0, `curl upload ${t.name} ${n}: ${u.stderr}`);
        assert.equal(sha(readFileSync(o)), sha(up), `curl upload ${n} echoed via ${t.name}`);
        if (t.routes) assert.match(readFileSync(tmp('curl-h'), 'latin1'), new RegExp(`x-req-sha: ${sha(up)}`));
        // nghttp: download to stdout, upload with -d.
        const nd = await run('nghttp', [url(t, `/bytes/${n}`)]);
        assert.equal(nd.code, 0, nd.stderr);
        assert.equal(sha(nd.stdout), want, `nghttp download ${n} via ${t.name}`);
        const nu = await run('nghttp', ['-d', tmp('up'), url(t, '/echo')]);
        assert.equal(nu.code, 0, nu.stderr);
        assert.equal(sha(nu.stdout), sha(up), `nghttp upload ${n} via ${t.name}`);
      }
      pass('curl', `bodies (${t.name})`);
      pass('nghttp', `bodies (${t.name})`);
      // Python h2: all sizes at once on one connection, both ways.
      const reqs = SIZES.flatMap((n) => [{ path: `/bytes/${n}` }, { path: '/echo', body: n, seed: `py${n}` }]);
      const out = await pyClient(t.port, [{ requests: reqs }]);
      const res = out.steps[0] as PyResult[];
      for (const [i, n] of SIZES.entries()) {
        const dl = res[2 * i]!;
        const ul = res[2 * i + 1]!;
        assert.equal(dl.status, '200');
        assert.equal(dl.body_sha, sha(gen(n, 'down')), `python download ${n} via ${t.name}`);
        assert.equal(ul.status, '200');
        assert.equal(ul.sent_sha, sha(gen(n, `py${n}`)));
        assert.equal(ul.body_sha, ul.sent_sha, `python upload ${n} via ${t.name}`);
        if (t.routes) assert.equal(hv(ul.headers, 'x-req-sha'), ul.sent_sha);
      }
      pass('python-h2 client', `bodies (${t.name})`);
    }
  });

  test('trailers: request trailers arrive, response trailers arrive', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [
        { requests: [{ path: '/echo', body: 30000, seed: 'tr', trailers: [['x-req-t', 'one'], ['grpc-status', '0']] }, { path: t.routes ? '/bytes/16385?trailers=1' : '/bytes/16385' }] },
      ]);
      const [echo, dl] = out.steps[0] as PyResult[];
      assert.equal(echo!.body_sha, echo!.sent_sha);
      if (t.routes) {
        assert.deepEqual(JSON.parse(hv(echo!.headers, 'x-req-trailers')!), [['x-req-t', 'one'], ['grpc-status', '0']], `request trailers via ${t.name}`);
        assert.deepEqual(echo!.trailers, [['x-sha', echo!.sent_sha], ['x-end', 'done']]);
        assert.deepEqual(dl!.trailers, [['x-sha', sha(gen(16385, 'down'))], ['x-end', 'done']]);
      } else {
        assert.deepEqual(echo!.trailers, [['x-trailer', 'nghttpd']], `nghttpd's response trailers via ${t.name}`);
        assert.deepEqual(dl!.trailers, [['x-trailer', 'nghttpd']]);
      }
      pass('python-h2 client', `trailers both ways (${t.name})`);
      // nghttp sends request trailers (--trailer) and prints the response's with -v.
      writeFileSync(tmp('tr'), gen(5000, 'ngtr'));
      const n = await run('nghttp', ['-v', '-n', '--trailer', 'x-req-t: from-nghttp', '-d', tmp('tr'), url(t, t.routes ? '/echo' : '/echo')]);
      assert.equal(n.code, 0, n.stderr);
      const text = n.stdout.toString('latin1');
      if (t.routes) {
        assert.match(text, /x-req-trailers: \[\["x-req-t", "from-nghttp"\]\]|x-req-trailers: \[\["x-req-t","from-nghttp"\]\]/, `nghttp's request trailer via ${t.name}`);
        assert.match(text, new RegExp(`recv \\(stream_id=\\d+\\) x-sha: ${sha(gen(5000, 'ngtr'))}`));
      } else assert.match(text, /recv \(stream_id=\d+\) x-trailer: nghttpd/);
      pass('nghttp', `trailers both ways (${t.name})`);
    }
  });

  test('100 concurrent streams on one connection', { timeout: 120_000 }, async () => {
    for (const t of targets) {
      // h2load: 1000 requests over one connection, 100 streams at a time; every byte counted.
      const h = await run('h2load', ['-n', '1000', '-c', '1', '-m', '100', url(t, '/bytes/16385')]);
      const text = h.stdout.toString();
      assert.equal(h.code, 0, text + h.stderr);
      assert.match(text, /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored, 0 timeout/, `h2load via ${t.name}:\n${text}`);
      assert.match(text, /status codes: 1000 2xx/);
      // "traffic: 15.64MB (16403069) total, 3.00KB (3069) headers (...), 15.63MB (16385000) data"
      assert.equal(/traffic: .*\((\d+)\) data/.exec(text)?.[1], String(1000 * 16385), `h2load counted the body bytes via ${t.name}:\n${text}`);
      pass('h2load', `100 concurrent streams, 1000 requests (${t.name})`);
      // Python h2: 100 uploads at once, each body distinct, each echoed byte for byte.
      const reqs = Array.from({ length: 100 }, (_, i) => ({ path: '/echo', body: 1000 + i * 997, seed: `c${i}` }));
      const out = await pyClient(t.port, [{ requests: reqs }]);
      for (const [i, r] of (out.steps[0] as PyResult[]).entries()) {
        assert.equal(r.status, '200', `stream ${i} via ${t.name}`);
        assert.equal(r.body_sha, sha(gen(1000 + i * 997, `c${i}`)), `stream ${i} via ${t.name}`);
      }
      pass('python-h2 client', `100 concurrent streams (${t.name})`);
      // nghttp: the same URI 100 times at once (-m), with its PRIORITY tree.
      const n = await run('nghttp', ['-m', '100', url(t, '/bytes/16383')]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(sameBodies(n.stdout, gen(16383, 'down'), 100), `nghttp -m 100 via ${t.name}`);
      pass('nghttp', `100 concurrent streams (${t.name})`);
    }
  });

  test('a header block larger than 16 KiB both ways (CONTINUATION)', { timeout: 60_000 }, async () => {
    const big = bigValue(BIG_HEADER);
    for (const t of targets.filter((x) => x.routes)) {
      const out = await pyClient(t.port, [{ requests: [{ path: `/big-response/${BIG_HEADER}`, headers: [['x-big', big]] }] }]);
      const r = (out.steps[0] as PyResult[])[0]!;
      assert.equal(r.status, '200');
      assert.equal(hv(r.headers, 'x-big-sha'), sha(big), `request header block via ${t.name}`);
      assert.equal(hv(r.headers, 'x-big-resp'), big, `response header block via ${t.name}`);
      pass('python-h2 client', `>16 KiB header blocks both ways (${t.name})`);
      const c = await run('curl', ['-sS', '--http2-prior-knowledge', '-D', '-', '-o', '/dev/null', '-H', `x-big: ${big}`, url(t, `/big-response/${BIG_HEADER}`)]);
      assert.equal(c.code, 0, c.stderr);
      const ct = c.stdout.toString('latin1');
      assert.match(ct, new RegExp(`x-big-sha: ${sha(big)}`), `curl's request header block via ${t.name}`);
      assert.ok(ct.includes(`x-big-resp: ${big}\r\n`), `curl got the response header block via ${t.name}`);
      pass('curl', `>16 KiB header blocks both ways (${t.name})`);
      // nghttp --continuation: its own large header, split by nghttp2.
      const n = await run('nghttp', ['-v', '-n', '--continuation', '-H', `x-big: ${big}`, url(t, `/big-response/${BIG_HEADER}`)]);
      assert.equal(n.code, 0, n.stderr);
      const nt = n.stdout.toString('latin1');
      // (nghttp -v logs a header block as one frame; 20 KB cannot cross in one 16 KiB frame.)
      assert.ok(nt.includes(`x-big-sha: ${sha(big)}\n`), `nghttp's request header block via ${t.name}`);
      assert.ok(nt.includes(`x-big-resp: ${big}\n`), `nghttp got the response header block via ${t.name}`);
      pass('nghttp', `>16 KiB header blocks both ways (${t.name})`);
    }
  });

  test('a client with a 1024-byte stream window and a 4 KiB connection window: honoured, nothing lost', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const n = 1024 * 1024 + 1;
      const out = await pyClient(t.port, [{ requests: [{ path: `/bytes/${n}` }, { path: '/echo', body: 200_000, seed: 'win' }, { path: '/bytes/16385' }] }], { window: 1024, conn_window: 4096 });
      const [a, b, c] = out.steps[0] as PyResult[];
      assert.equal(a!.body_sha, sha(gen(n, 'down')), `1 MiB through small windows via ${t.name}`);
      assert.equal(b!.body_sha, sha(gen(200_000, 'win')));
      assert.equal(c!.body_sha, sha(gen(16385, 'down')));
      pass('python-h2 client', `small windows (${t.name})`);
      // nghttp2's own small windows: 2^10-1 per stream, 2^14-1 for the connection.
      const h = await run('h2load', ['-n', '20', '-c', '1', '-m', '10', '-w', '10', '-W', '14', url(t, `/bytes/${n}`)]);
      assert.match(h.stdout.toString(), /20 succeeded/, h.stdout.toString());
      const ng = await run('nghttp', ['-w', '10', '-W', '14', url(t, `/bytes/${n}`)]);
      assert.equal(sha(ng.stdout), sha(gen(n, 'down')));
      pass('h2load', `small windows (${t.name})`);
      pass('nghttp', `small windows (${t.name})`);
    }
  });

  test('SETTINGS_HEADER_TABLE_SIZE changed mid-connection, and the peer encoder resizing its table', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const batch = (k: number) => ({
        requests: Array.from({ length: 5 }, (_, i) => ({ path: t.routes ? `/echo?k=${k}` : '/echo', body: 10, seed: `t${k}${i}`, headers: [['x-rep-a', `value-${i % 2}`], ['x-rep-b', 'x'.repeat(100 + k)], ['x-rep-k', String(k)]] })),
      });
      const out = await pyClient(t.port, [
        batch(0),
        { settings: { header_table_size: 0 } },
        { encoder_table_size: 0 },
        batch(1),
        { settings: { header_table_size: 256 } },
        { encoder_table_size: 256 },
        batch(2),
        { settings: { header_table_size: 4096 } },
        { encoder_table_size: 4096 },
        batch(3),
      ]);
      for (const k of [0, 3, 6, 9]) {
        for (const [i, r] of (out.steps[k] as PyResult[]).entries()) {
          assert.equal(r.status, '200', `table change step ${k} via ${t.name}`);
          assert.equal(r.body_sha, r.sent_sha);
          if (t.routes) {
            const kk = String(k / 3);
            assert.equal(hv(r.headers, 'x-rep-a'), `value-${i % 2}`);
            assert.equal(hv(r.headers, 'x-rep-b'), 'x'.repeat(100 + Number(kk)));
            assert.equal(hv(r.headers, 'x-rep-k'), kk);
          }
        }
      }
      pass('python-h2 client', `HEADER_TABLE_SIZE 4096→0→256→4096 both ways (${t.name})`);
      // nghttp2's own: a decoder table of 0 (our encoder may index nothing) and its encoder at 256.
      const n = await run('nghttp', ['-c', '0', '--encoder-header-table-size', '256', '-m', '20', '-H', 'x-rep-a: same-every-time', url(t, '/bytes/16385')]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(sameBodies(n.stdout, gen(16385, 'down'), 20), `nghttp -c 0 via ${t.name}`);
      const h = await run('h2load', ['-n', '200', '-c', '1', '-m', '20', '--header-table-size', '0', '--encoder-header-table-size', '0', url(t, '/bytes/1')]);
      assert.match(h.stdout.toString(), /200 succeeded, 0 failed, 0 errored/, h.stdout.toString());
      pass('nghttp', `SETTINGS_HEADER_TABLE_SIZE 0 and its encoder at 256 (${t.name})`);
      pass('h2load', `SETTINGS_HEADER_TABLE_SIZE 0, its encoder at 0 (${t.name})`);
    }
  });

  test('padded HEADERS and DATA and PRIORITY frames from the client', { timeout: 60_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [{ requests: [{ path: '/echo', body: 100_000, seed: 'pad', trailers: [['x-t', '1']] }, { path: '/bytes/16385' }] }], { pad: 17, priority: true });
      const [e, d] = out.steps[0] as PyResult[];
      assert.equal(e!.status, '200');
      assert.equal(e!.body_sha, sha(gen(100_000, 'pad')), `padded upload via ${t.name}`);
      if (t.routes) assert.equal(hv(e!.headers, 'x-req-sha'), e!.sent_sha);
      assert.equal(d!.body_sha, sha(gen(16385, 'down')));
      pass('python-h2 client', `padded HEADERS/DATA + PRIORITY (${t.name})`);
      // nghttp's own padding (-b) and PRIORITY tree.
      writeFileSync(tmp('pad'), gen(40_000, 'ngpad'));
      const n = await run('nghttp', ['-b', '255', '-d', tmp('pad'), url(t, '/echo')]);
      assert.equal(sha(n.stdout), sha(gen(40_000, 'ngpad')));
      pass('nghttp', `padded HEADERS/DATA + PRIORITY (${t.name})`);
    }
  });

  test('PING is answered with its payload', { timeout: 30_000 }, async () => {
    for (const t of targets) {
      const out = await pyClient(t.port, [{ ping: 'linnet!!' }, { requests: [{ path: '/bytes/1' }] }, { ping: '\u0000\u0001\u0002\u0003\u00fe\u00ff01' }]);
      assert.deepEqual(out.steps[0], { ping: 'linnet!!' });
      assert.deepEqual(out.steps[2], { ping: '\u0000\u0001\u0002\u0003\u00fe\u00ff01' });
      pass('python-h2 client', `PING (${t.name})`);
    }
  });

  test('RST_STREAM both ways', { timeout: 30_000 }, async () => {
    for (const t of targets.filter((x) => x.routes)) {
      const out = await pyClient(t.port, [
        { requests: [{ path: '/rst/11' }, { path: '/rst-mid/2' }, { path: '/hang?who=py', body: 50_000, seed: 'rst', reset_after_ms: 150, reset_code: 8 }, { path: '/bytes/16384' }] },
      ]);
      const [a, b, c, d] = out.steps[0] as PyResult[];
      assert.equal(a!.reset, 11, `server RST_STREAM ENHANCE_YOUR_CALM via ${t.name}`);
      assert.equal(b!.status, '200');
      assert.equal(b!.body_sha, sha(gen(1000, 'mid')), `body before the reset via ${t.name}`);
      assert.equal(b!.reset, 2, `server RST_STREAM INTERNAL_ERROR mid-body via ${t.name}`);
      assert.equal(c!.reset_sent, 8);
      assert.equal(d!.body_sha, sha(gen(16384, 'down')), 'the connection goes on');
      // The client's reset reaches the server with its code.
      const resets = () => (t.events ? t.events.filter((e) => e.event === 'reset').map((e) => ({ path: e.path, code: e.code })) : ours.resets);
      for (let i = 0; i < 50 && !resets().some((r) => r.path === '/hang?who=py'); i++) await sleep(20);
      assert.deepEqual(resets().filter((r) => r.path === '/hang?who=py'), [{ path: '/hang?who=py', code: 8 }], `client RST_STREAM CANCEL via ${t.name}`);
      pass('python-h2 client', `RST_STREAM both ways (${t.name})`);
      // curl sees the server's reset as an error naming the code.
      const c1 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', url(t, '/rst-mid/2')]);
      assert.equal(c1.code, 92, c1.stderr);
      assert.match(c1.stderr, /INTERNAL_ERROR \(err 2\)/);
      const n1 = await run('nghttp', ['-v', '-n', url(t, '/rst/11')]);
      assert.match(n1.stdout.toString(), /recv RST_STREAM frame[^\n]*\n\s*\(error_code=ENHANCE_YOUR_CALM\(0x0b\)\)/);
      pass('curl', `RST_STREAM from the server (${t.name})`);
      pass('nghttp', `RST_STREAM from the server (${t.name})`);
    }
  });

  test('GOAWAY from the server with streams in flight: they finish; new streams take a new connection', { timeout: 30_000 }, async () => {
    // The proxy's upstream connection receives Python h2's GOAWAY.
    const t = targets[0]!;
    const out = await pyClient(t.port, [
      { requests: [{ path: '/bytes/1?warm' }] },
      { requests: [{ path: '/slow/400?a' }, { path: '/slow/500?b' }, { path: '/goaway' }] },
      { requests: [{ path: '/bytes/16385?after1' }, { path: '/bytes/16385?after2' }] },
    ]);
    const [warm] = out.steps[0] as PyResult[];
    const [a, b, g] = out.steps[1] as PyResult[];
    const after = out.steps[2] as PyResult[];
    const conn = hv(warm!.headers, 'x-conn');
    assert.equal(g!.body, 'bye');
    assert.equal(a!.body, 'slow', 'an in-flight stream below the GOAWAY finishes');
    assert.equal(b!.body, 'slow');
    assert.equal(hv(a!.headers, 'x-conn'), conn);
    assert.equal(hv(b!.headers, 'x-conn'), conn);
    for (const r of after) {
      assert.equal(r.body_sha, sha(gen(16385, 'down')));
      assert.notEqual(hv(r.headers, 'x-conn'), conn, 'new streams go over a new connection');
    }
    assert.deepEqual(t.events!.filter((e) => e.event === 'after-goaway'), [], 'nothing was sent past the GOAWAY');
    assert.equal(out.goaway, null, 'the client connection to the proxy is not affected');
    pass('python-h2 server', 'GOAWAY with streams in flight (proxy upstream)');
    // GOAWAY whose last stream id is below streams the proxy sent: those were never processed,
    // so the proxy sends them again on a new connection (a small body replayed), and the stream
    // below the last one finishes on the old connection.
    const o3 = await pyClient(t.port, [
      { requests: [{ path: '/bytes/1?warm2' }] },
      { requests: [{ path: '/slow/300?c' }, { path: '/goaway-low/g1', body: 30_000, seed: 'gl' }, { path: '/goaway-low/g2' }] },
    ]);
    const conn3 = hv((o3.steps[0] as PyResult[])[0]!.headers, 'x-conn');
    const [slow3, g1, g2] = o3.steps[1] as PyResult[];
    assert.equal(slow3!.body, 'slow');
    assert.equal(hv(slow3!.headers, 'x-conn'), conn3, 'the stream below the GOAWAY finished where it was');
    assert.equal(g1!.body, 'retried', 'a stream past the GOAWAY was sent again');
    assert.equal(hv(g1!.headers, 'x-req-sha'), sha(gen(30_000, 'gl')), 'with its body');
    assert.notEqual(hv(g1!.headers, 'x-conn'), conn3);
    assert.equal(g2!.body, 'retried');
    pass('python-h2 server', 'GOAWAY naming a stream below ones in flight: those retried on a new connection (proxy upstream)');
    // Our server's GOAWAY (close()) with a stream in flight, to nghttp fetching both on one
    // connection. (Python's h2 4.1 takes no frame after a GOAWAY, and curl 7.88's --parallel fails
    // its second transfer against nghttpd too, so neither can be this client.)
    const before = ours.conns.length;
    const ourUrl = (p: string) => `http://127.0.0.1:${ours.port}${p}`;
    const n = await run('nghttp', ['-v', '--no-dep', ourUrl('/slow/300'), ourUrl('/goaway')]);
    const text = n.stdout.toString('latin1');
    assert.equal(n.code, 0, `nghttp: every request processed\n${text}`);
    assert.match(text, /recv GOAWAY frame <length=8, flags=0x00, stream_id=0>\n\s*\(last_stream_id=3, error_code=NO_ERROR\(0x00\)/);
    assert.ok(text.indexOf('recv GOAWAY') < text.indexOf('slow['), 'the stream in flight finished after the GOAWAY');
    assert.match(text, /bye\[/);
    assert.equal(ours.conns.length - before, 1, 'both on one connection');
    pass('nghttp', 'GOAWAY from H2Connection server with a stream in flight');
  });
});
