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
 * This file: the independent servers; the peers and helpers are in test/support/h2-interop-peers.ts.
 *
 * Every check compares bytes (SHA-256 of bodies made by gen(), the same bytes Python makes),
 * header values, trailers and reset codes, never only an exit status. Python's h2 also raises
 * on any frame of ours that breaks a window, a table size or the frame rules, which the checks
 * then see as a missing response. Skipped when the peers are not installed
 * (.ci/setup-debian installs them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { H2Code } from '../proxy/protocol/h2/grpc-status';
import { fieldValue } from '../proxy/protocol/h2/headers';

import { skip, SIZES, BIG_HEADER, gen, sha, bigValue, pass, run, pyServer, type PyResult, pyClient, hv, nghttpd, proxyTo, ourClient, ourRequest, pyUp, ngUp, interopPeers } from './support/h2-interop-peers';

interopPeers();

describe('independent servers: nghttpd and Python h2, behind the proxy and against our client alone', { skip }, () => {
  test('our client alone: bodies both ways, trailers, 100 concurrent streams, big header blocks', { timeout: 120_000 }, async () => {
    for (const [name, port, routes] of [['python-h2 server', () => pyUp.port, true], ['nghttpd', () => ngUp.port, false]] as const) {
      const { conn } = await ourClient(port());
      for (const n of SIZES) {
        const d = await ourRequest(conn, `/bytes/${n}`);
        assert.equal(fieldValue(d.headers!, ':status'), '200');
        assert.equal(sha(d.body), sha(gen(n, 'down')), `download ${n} from ${name}`);
        const body = gen(n, `our${n}`);
        const u = await ourRequest(conn, '/echo', { body, trailers: ['x-req-t', 'ours'] });
        assert.equal(sha(u.body), sha(body), `upload ${n} to ${name}`);
        if (routes) {
          assert.equal(fieldValue(u.headers!, 'x-req-sha'), sha(body));
          assert.deepEqual(JSON.parse(fieldValue(u.headers!, 'x-req-trailers')!), [['x-req-t', 'ours']]);
          assert.deepEqual(u.trailers, ['x-sha', sha(body), 'x-end', 'done']);
        } else if (n > 0) assert.deepEqual(u.trailers, ['x-trailer', 'nghttpd']);
      }
      pass(name, 'bodies both ways, trailers (H2Connection client)');
      const many = await Promise.all(Array.from({ length: 100 }, (_, i) => ourRequest(conn, '/echo', { body: gen(500 + i * 1001, `m${i}`) })));
      for (const [i, r] of many.entries()) assert.equal(sha(r.body), sha(gen(500 + i * 1001, `m${i}`)), `stream ${i} to ${name}`);
      pass(name, '100 concurrent streams (H2Connection client)');
      const big = bigValue(BIG_HEADER);
      const b = await ourRequest(conn, routes ? `/big-response/${BIG_HEADER}` : '/bytes/1', { headers: ['x-big', big] });
      assert.equal(fieldValue(b.headers!, ':status'), '200');
      if (routes) {
        assert.equal(fieldValue(b.headers!, 'x-big-sha'), sha(big));
        assert.equal(fieldValue(b.headers!, 'x-big-resp'), big);
      }
      pass(name, `>16 KiB header block${routes ? 's both ways' : ' sent'} (H2Connection client)`);
      const rtt = await new Promise<number | undefined>((r) => conn.ping(r));
      assert.equal(typeof rtt, 'number');
      pass(name, 'PING answered (H2Connection client)');
      conn.close();
    }
  });

  test('small windows at the server: nghttpd -w 10 -W 14 (and padding, -b 255) and Python h2 with 1024 / 4 KiB', { timeout: 60_000 }, async () => {
    const ng = await nghttpd(['-w', '10', '-W', '14', '-b', '255']);
    const py = await pyServer({ window: 1024, conn_window: 4096 });
    try {
      for (const [name, port] of [['nghttpd', ng.port], ['python-h2 server', py.port]] as const) {
        const body = gen(1024 * 1024 + 1, 'sw');
        for (const [how, p] of [['H2Connection client', port], ['proxy upstream', await proxyTo(port)]] as const) {
          const { conn } = await ourClient(p);
          const rs = await Promise.all([1, 2, 3].map(() => ourRequest(conn, '/echo', { body })));
          for (const r of rs) assert.equal(sha(r.body), sha(body), `1 MiB into ${name}'s small windows (${how})`);
          const d = await ourRequest(conn, `/bytes/${body.length}`);
          assert.equal(sha(d.body), sha(gen(body.length, 'down')), `1 MiB from ${name} (${how})`);
          conn.close();
          pass(name, `small windows${name === 'nghttpd' ? ', padded HEADERS/DATA' : ''} (${how})`);
        }
      }
    } finally {
      ng.stop();
      py.stop();
    }
  });

  test('Python h2 server: table size changes, padding, PRIORITY; our client and the proxy as its client', { timeout: 60_000 }, async () => {
    const py = await pyServer({ table_dance: true, pad: 33 });
    try {
      for (const [how, p] of [['H2Connection client', py.port], ['proxy upstream', await proxyTo(py.port)]] as const) {
        const { conn } = await ourClient(p);
        for (let k = 0; k < 12; k++) {
          const rs = await Promise.all(
            [0, 1, 2].map((i) => ourRequest(conn, '/echo', { body: gen(20_000, `d${k}${i}`), headers: ['x-rep-a', `v${i}`, 'x-rep-b', 'y'.repeat(50 + k), 'x-rep-k', String(k)] })),
          );
          for (const [i, r] of rs.entries()) {
            assert.equal(sha(r.body), sha(gen(20_000, `d${k}${i}`)), `padded body (${how}) round ${k}`);
            assert.equal(fieldValue(r.headers!, 'x-rep-a'), `v${i}`);
            assert.equal(fieldValue(r.headers!, 'x-rep-b'), 'y'.repeat(50 + k));
            assert.equal(fieldValue(r.headers!, 'x-rep-k'), String(k));
          }
        }
        conn.close();
        pass('python-h2 server', `HEADER_TABLE_SIZE changes + its encoder resizing, padded HEADERS/DATA (${how})`);
      }
      assert.deepEqual(py.events.filter((e) => e.event === 'protocol-error'), []);
    } finally {
      py.stop();
    }
  });

  test('our client alone against Python h2: GOAWAY with a stream in flight, RST_STREAM both ways', { timeout: 30_000 }, async () => {
    const py = await pyServer();
    try {
      const { conn, goaway } = await ourClient(py.port);
      const slow = ourRequest(conn, '/slow/300');
      await sleep(50);
      const g = await ourRequest(conn, '/goaway');
      assert.equal(g.body.toString(), 'bye');
      for (let i = 0; i < 50 && goaway.length === 0; i++) await sleep(10);
      assert.deepEqual(goaway, [{ code: 0, last: 3 }]);
      assert.equal(conn.usable, false, 'no new streams after GOAWAY');
      assert.equal((await slow).body.toString(), 'slow', 'the stream in flight finished');
      pass('python-h2 server', 'GOAWAY with a stream in flight (H2Connection client)');
      const c2 = await ourClient(py.port);
      const r1 = await ourRequest(c2.conn, '/rst/11');
      assert.equal(r1.reset, 11);
      const r2 = await ourRequest(c2.conn, '/rst-mid/2');
      assert.equal(sha(r2.body), sha(gen(1000, 'mid')));
      assert.equal(r2.reset, 2);
      const hang = ourRequest(c2.conn, '/hang?who=ours', { body: gen(100, 'x') });
      await sleep(100);
      const st = [...c2.conn.streams.values()].at(-1)!;
      st.reset(H2Code.CANCEL);
      await hang;
      for (let i = 0; i < 50 && !py.events.some((e) => e.event === 'reset'); i++) await sleep(20);
      assert.deepEqual(py.events.filter((e) => e.event === 'reset').map((e) => [e.path, e.code]), [['/hang?who=ours', 8]]);
      pass('python-h2 server', 'RST_STREAM both ways (H2Connection client)');
      c2.conn.close();
    } finally {
      py.stop();
    }
  });
  test("the server's SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_MAX_FRAME_SIZE are honoured (nghttpd -m 3, Python h2 with 5 and 1 MiB frames)", { timeout: 60_000 }, async () => {
    const ng = await nghttpd(['-m', '3']);
    const py = await pyServer({ max_concurrent: 5, max_frame_size: 1 << 20 });
    try {
      // h2load opens 100 streams at once through the proxy; nghttpd takes 3 at a time.
      const h = await run('h2load', ['-n', '300', '-c', '1', '-m', '100', `http://127.0.0.1:${await proxyTo(ng.port)}/bytes/16385`]);
      const text = h.stdout.toString();
      assert.match(text, /requests: 300 total, 300 started, 300 done, 300 succeeded, 0 failed, 0 errored, 0 timeout/, text);
      pass('nghttpd', 'its SETTINGS_MAX_CONCURRENT_STREAMS 3 under 100 concurrent h2load streams (proxy upstream)');
      const big = bigValue(BIG_HEADER);
      for (const [how, p] of [['H2Connection client', py.port], ['proxy upstream', await proxyTo(py.port)]] as const) {
        const { conn } = await ourClient(p);
        // One request first: the proxy's upstream connection has the server's SETTINGS by then
        // (until they arrive the engine assumes no limit, as RFC 9113 allows).
        assert.equal((await ourRequest(conn, '/bytes/1')).body.length, 1);
        const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => ourRequest(conn, '/echo', { body: gen(100_000 + i, `mc${i}`), headers: i === 0 ? ['x-big', big] : [] })));
        for (const [i, r] of rs.entries()) assert.equal(sha(r.body), sha(gen(100_000 + i, `mc${i}`)), `stream ${i} (${how})`);
        assert.equal(fieldValue(rs[0]!.headers!, 'x-big-sha'), sha(big), `a 20 KB header block in one frame (${how})`);
        conn.close();
        pass('python-h2 server', `its SETTINGS_MAX_CONCURRENT_STREAMS 5 and MAX_FRAME_SIZE 1 MiB (${how})`);
      }
      const opened = py.events.filter((e) => e.event === 'request' && e.path === '/echo').map((e) => e.open as number);
      assert.equal(opened.length, 80);
      assert.ok(Math.max(...opened) <= 5, `at most 5 streams open at the server: ${Math.max(...opened)}`);
      assert.ok(py.events.some((e) => e.event === 'big-data-frame'), 'DATA frames past 16 KiB were sent once allowed');
      assert.deepEqual(py.events.filter((e) => e.event === 'protocol-error'), []);
    } finally {
      ng.stop();
      py.stop();
    }
  });

  test('1xx informational responses before the final one; HEAD with a content-length and no body', { timeout: 30_000 }, async () => {
    const viaProxy = await proxyTo(pyUp.port);
    const out = await pyClient(viaProxy, [{ requests: [{ path: '/early' }] }]);
    const r = (out.steps[0] as (PyResult & { informational?: [string, string][][] })[])[0]!;
    assert.deepEqual(r.informational, [[[':status', '103'], ['link', '</a.css>; rel=preload']]], 'the 103 crossed the proxy');
    assert.equal(r.body, 'early');
    pass('python-h2 server', '103 Early Hints then 200 (proxy upstream, to a Python h2 client)');
    const { conn } = await ourClient(pyUp.port);
    const e = await ourRequest(conn, '/early');
    assert.deepEqual(e.informational, [[':status', '103', 'link', '</a.css>; rel=preload']]);
    assert.equal(e.body.toString(), 'early');
    pass('python-h2 server', '103 Early Hints then 200 (H2Connection client)');
    conn.close();
    // HEAD: nghttpd declares the file's length and sends no body.
    const c = await run('curl', ['-sS', '--http2-prior-knowledge', '-I', `http://127.0.0.1:${await proxyTo(ngUp.port)}/bytes/16385`]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout.toString(), /^HTTP\/2 200/);
    assert.match(c.stdout.toString(), /content-length: 16385/);
    const o = await ourClient(ngUp.port);
    const h = await ourRequest(o.conn, '/bytes/16385', { method: 'HEAD' });
    assert.equal(fieldValue(h.headers!, 'content-length'), '16385');
    assert.equal(h.body.length, 0);
    assert.equal(h.reset, undefined);
    o.conn.close();
    pass('nghttpd', 'HEAD with content-length and no body (proxy upstream for curl -I; H2Connection client)');
  });
  test('never-indexed fields (HPACK) stay never-indexed across the proxy, both ways, also for a request that waited for the upstream\'s stream limit', { timeout: 30_000 }, async () => {
    // RFC 7541 §7.1.3: an intermediary must not re-encode a never-indexed field so that it can be indexed.
    const py = await pyServer({ max_concurrent: 1 });
    try {
      const port = await proxyTo(py.port);
      const secret = (i: number) => ({ path: `/secret?i=${i}`, headers: [['x-secret-req', `k${i}`, 'never'], ['x-plain-req', 'p']] });
      const out = await pyClient(port, [{ requests: [secret(0)] }, { requests: [1, 2, 3, 4, 5].map(secret) }]);
      for (const [k, step] of [out.steps[0], out.steps[1]].entries()) {
        for (const r of step as (PyResult & { never?: string[] })[]) {
          assert.equal(r.body, 'secret');
          assert.equal(hv(r.headers, 'x-never-req'), 'x-secret-req', `the request's never-indexed field reached the server as one (step ${k})`);
          assert.deepEqual(r.never, ['x-secret-resp', 'x-secret-trailer'], `the response's never-indexed fields reached the client as such (step ${k})`);
        }
      }
      pass('python-h2 client', 'never-indexed fields both ways (proxy→python-h2, upstream stream limit 1)');
      pass('python-h2 server', 'never-indexed fields both ways (proxy upstream, stream limit 1)');
    } finally {
      py.stop();
    }
  });
});
