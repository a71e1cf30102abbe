/**
 * H2Connection on loopback, one of ours at each end (the independent peers are in
 * test/h2-interop-clients.test.ts and -servers.test.ts; the hostile ones in fuzz/targets/h2-connection.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { H2Connection } from './connection';
import { DEFAULT_MAX_FRAME_SIZE, Flag, FrameReader, FrameType, headersFrames, PREFACE, SETTINGS_ACK, settingsFrame, windowUpdateFrame } from './frames';
import { HpackEncoder } from './hpack';
import type { H2Settings } from './settings';

const settings: H2Settings = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_535,
  initialConnectionWindowSize: 65_535,
  maxSessionMemoryMb: 64,
  maxHeaderListSize: 65_535,
  keepAliveTimeoutMs: 0,
};

test('a stream whose queued body (sendData returned false) ends on a WINDOW_UPDATE hears onClose last, with no onDrain after it', async (t) => {
  // Found by fuzz/targets/h2-connection: flushStream wrote the rest of the queue and END_STREAM,
  // closed the stream (onClose), then told its owner onDrain.
  const events: string[] = [];
  const server = createServer((sock) => {
    new H2Connection(sock, { role: 'server', settings }, {
      onStream: (stream) => {
        stream.events = {
          onHeaders: () => events.push('headers'),
          onData: () => {},
          onReset: () => events.push('reset'),
          onDrain: () => events.push('drain'),
          onClose: () => events.push('close'),
        };
        stream.sendHeaders([':status', '200']);
        // Past the client's 64 KiB window and past the 64 KiB high-water mark: queued, false.
        assert.equal(stream.sendData(Buffer.alloc(300_000, 1), true), false);
      },
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // A raw client: the request, then (once the server has queued) one WINDOW_UPDATE that lets all of it go.
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => {
    sock.destroy();
    server.close();
  });
  let got = 0;
  let ended = false;
  const reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  sock.on('data', (chunk: Buffer) =>
    reader.push(chunk, (type, flags, _id, payload) => {
      if (type === FrameType.DATA) {
        got += payload.length;
        if (flags & Flag.END_STREAM) ended = true;
      }
      return true;
    }),
  );
  const block = new HpackEncoder().encode([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'x']);
  sock.write(Buffer.concat([PREFACE, settingsFrame([]), headersFrames(1, block, true, DEFAULT_MAX_FRAME_SIZE)]));
  for (let i = 0; i < 100 && got < 65_535; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, 65_535, 'the first window went out, the rest is queued');
  sock.write(Buffer.concat([windowUpdateFrame(0, 1_000_000), windowUpdateFrame(1, 1_000_000), SETTINGS_ACK]));
  for (let i = 0; i < 100 && !ended; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(got, 300_000);
  assert.equal(ended, true);
  assert.equal(events.at(-1), 'close', `events: ${events.join(' ')}`);
  assert.equal(events.filter((e) => e === 'close').length, 1);
});

test("requests past the server's SETTINGS_MAX_CONCURRENT_STREAMS wait with their bodies: no DATA before HEADERS", async (t) => {
  // Python h2 showed it (test/h2-interop, a server with SETTINGS_MAX_CONCURRENT_STREAMS 5): a
  // request that waited for the limit had its body written at once, DATA on a stream whose
  // HEADERS had not gone out, and the server ended the connection. The proxy writes a buffered
  // request body right after request(), so every POST past an upstream's limit did this.
  const server = createServer((sock) => {
    new H2Connection(sock, { role: 'server', settings: { ...settings, maxConcurrentStreams: 2 } }, {
      onStream: (stream) => {
        const parts: Buffer[] = [];
        let trailers: string[] = [];
        const done = () => {
          const body = Buffer.concat(parts);
          stream.sendHeaders([':status', '200', 'x-trailers', trailers.join(',')]);
          stream.sendData(body, true);
        };
        stream.events = {
          onHeaders: (f, end, kind) => {
            if (kind === 'trailers') trailers = f;
            if (end) done();
          },
          onData: (c, end) => {
            parts.push(c);
            if (end) done();
          },
          onReset: () => {},
          onDrain: () => {},
          onClose: () => {},
        };
      },
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => {
    sock.destroy();
    server.close();
  });
  let ready!: () => void;
  const connected = new Promise<void>((r) => (ready = r));
  const client = new H2Connection(sock, { role: 'client', settings }, { onConnect: () => ready() });
  await connected;
  const send = (i: number) =>
    new Promise<{ status?: string; body: Buffer; trailers?: string; reset?: number }>((resolve) => {
      const out: { status?: string; body: Buffer; trailers?: string; reset?: number } = { body: Buffer.alloc(0) };
      const chunks: Buffer[] = [];
      const s = client.request([':method', 'POST', ':scheme', 'http', ':path', `/${i}`, ':authority', 'x'], false, {
        onHeaders: (f) => {
          out.status = f[1];
          out.trailers = f[3];
        },
        onData: (c) => chunks.push(c),
        onReset: (code) => (out.reset = code),
        onDrain: () => {},
        onClose: () => resolve({ ...out, body: Buffer.concat(chunks) }),
      });
      // A body larger than a window, then trailers, or an end (by an empty DATA) for odd ones.
      s.sendData(Buffer.alloc(100_000 + i, i));
      if (i % 2 === 0) s.sendTrailers(['x-i', String(i)]);
      else s.end();
    });
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => send(i)));
  for (const [i, r] of rs.entries()) {
    assert.equal(r.reset, undefined, `request ${i} was reset`);
    assert.equal(r.status, '200');
    assert.ok(r.body.equals(Buffer.alloc(100_000 + i, i)), `request ${i}: the body came back`);
    assert.equal(r.trailers, i % 2 === 0 ? `x-i,${i}` : '');
  }
  client.destroy();
});

test('never-indexed pairs stay never-indexed for a request that waited for the stream limit and for queued trailers', async (t) => {
  // Python h2 behind the proxy showed it (test/h2-interop): a request that waited for the
  // upstream's SETTINGS_MAX_CONCURRENT_STREAMS went out with its never-indexed fields indexable,
  // and trailers queued behind the window lost theirs (RFC 7541 §7.1.3).
  const seen: { headers?: number[]; trailers?: number[] }[] = [];
  const server = createServer((sock) => {
    new H2Connection(sock, { role: 'server', settings: { ...settings, maxConcurrentStreams: 1 } }, {
      onStream: (stream, _fields, _end, neverIndexed) => {
        const rec: { headers?: number[]; trailers?: number[] } = { headers: neverIndexed };
        seen.push(rec);
        stream.events = {
          onHeaders: (_f, _e, kind, ni) => {
            if (kind !== 'trailers') return;
            rec.trailers = ni;
            stream.sendHeaders([':status', '200'], true);
          },
          onData: () => {},
          onReset: () => {},
          onDrain: () => {},
          onClose: () => {},
        };
      },
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => {
    sock.destroy();
    server.close();
  });
  let ready!: () => void;
  const connected = new Promise<void>((r) => (ready = r));
  const client = new H2Connection(sock, { role: 'client', settings }, { onConnect: () => ready() });
  await connected;
  await Promise.all(
    [0, 1, 2].map(
      (i) =>
        new Promise<void>((resolve) => {
          const s = client.request([':method', 'POST', ':scheme', 'http', ':path', `/${i}`, ':authority', 'x', 'x-secret', `s${i}`], false, { onHeaders: () => {}, onData: () => {}, onReset: () => {}, onDrain: () => {}, onClose: () => resolve() }, [4]);
          s.sendData(Buffer.alloc(100_000)); // past the 64 KiB window: the trailers queue behind it
          s.sendTrailers(['x-plain', 'p', 'x-secret-trailer', 't'], [1]);
        }),
    ),
  );
  assert.deepEqual(seen, [0, 1, 2].map(() => ({ headers: [4], trailers: [1] })));
  client.destroy();
});
