"""
An HTTP/2 server (prior knowledge, no TLS) made with Python's h2, for the interop tests.

usage: python3 server.py '<json options>'   (options: see peer.py; all optional)
  window, conn_window   our small receive windows (SETTINGS_INITIAL_WINDOW_SIZE; bytes withheld)
  pad                   pad every HEADERS and DATA frame we send with this many bytes
  max_frame_size        our SETTINGS_MAX_FRAME_SIZE
  max_concurrent        our SETTINGS_MAX_CONCURRENT_STREAMS (default 1000)
  table_dance           after every request, a new SETTINGS_HEADER_TABLE_SIZE (0, 256, 4096, 64)
                        and a new encoder table size (HPACK size updates in our next blocks)
  chunk                 bytes per send call for bodies

Prints {"port": N} first, then one JSON line per event (below). Routes (every response has
x-conn: the connection's number):
  GET  /bytes/N[?trailers=1]   N bytes of gen(N, 'down'); x-body-sha; trailers x-sha, x-end
  POST /echo                   after the whole request: x-req-sha, x-req-len, x-req-trailers (JSON),
                               the body back, trailers x-sha, x-end
  GET  /big-response/N         a header x-big-resp of N characters (gen(N/2, 'big') in hex)
  any  ...                     x-big-len and x-big-sha of a request header x-big; x-rep-* echoed
  GET  /rst/CODE               RST_STREAM CODE at once
  GET  /rst-mid/CODE           200 and 1000 bytes, then RST_STREAM CODE
  GET  /hang                   never answers (reset by the client: a reset event)
  GET  /slow/MS                answers "slow" after MS milliseconds
  GET  /goaway                 answers "bye", then GOAWAY with the highest stream id seen
  GET  /early                  a 103 (link) first, then 200 "early"
  any  /goaway-low/ID          the first time for ID: GOAWAY whose last stream is the one before,
                               and no answer; after that: 200 "retried" with x-req-sha
  GET  /secret                 x-secret-resp in headers and x-secret-trailer in trailers, both
                               never-indexed (HPACK), beside plain ones
  any  ...                     x-never-req: the request's x-secret* fields that came never-indexed
Events: request (with the inbound streams open then), reset, goaway, after-goaway (a stream
past our GOAWAY), big-data-frame (a DATA frame past 16384 bytes), protocol-error, closed.
"""
import asyncio
import json
import sys

import h2.events
import h2.settings
from hpack import NeverIndexedHeaderTuple

from peer import Peer, emit, gen, sha

OPTS = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
conns = 0
goaway_low_seen = set()
TABLE_SIZES = [0, 256, 4096, 64]


async def handle(reader, writer):
    global conns
    conns += 1
    cid = conns
    peer = Peer(reader, writer, False, OPTS)
    peer.start()
    loop = asyncio.get_running_loop()
    streams = {}
    dance = [0]

    def respond(sid, headers, body=b'', trailers=None, end=True):
        st = streams.get(sid)
        hs = [(':status', headers[0])] + list(headers[1:]) + [('x-conn', str(cid))]
        if st:
            for k, v in st['headers']:
                if k.startswith('x-rep-'):
                    hs.append((k, v))
            never = [k for k, v in st['headers'] if k.startswith('x-secret') and st['never'].get(k)]
            if never:
                hs.append(('x-never-req', ','.join(never)))
            big = dict(st['headers']).get('x-big')
            if big is not None:
                hs += [('x-big-len', str(len(big))), ('x-big-sha', sha(big.encode()))]
        try:
            peer.send_headers(sid, hs, end_stream=(not body and trailers is None and end))
            if body or trailers is not None:
                peer.send_body(sid, body, end=end, trailers=trailers, chunk=OPTS.get('chunk'))
        except Exception as e:  # the stream was reset meanwhile
            emit({'event': 'send-error', 'stream': sid, 'error': repr(e)})
        peer.flush()

    def later(ms, f):
        def run():
            if peer.closed:
                return
            f()
            peer.flush()
        loop.call_later(ms / 1000, run)

    def on_request_done(sid):
        st = streams[sid]
        path = st['path']
        parts = path.split('?')[0].strip('/').split('/')
        route = parts[0]
        arg = parts[1] if len(parts) > 1 else ''
        if route == 'bytes':
            n = int(arg)
            body = gen(n, 'down')
            trailers = [('x-sha', sha(body)), ('x-end', 'done')] if 'trailers=1' in path else None
            respond(sid, ['200', ('content-length', str(n)), ('x-body-sha', sha(body))], body, trailers)
        elif route == 'echo':
            body = b''.join(st['body'])
            respond(sid, ['200', ('x-req-sha', sha(body)), ('x-req-len', str(len(body))), ('x-req-trailers', json.dumps(st['trailers']))],
                    body, [('x-sha', sha(body)), ('x-end', 'done')])
        elif route == 'big-response':
            n = int(arg)
            respond(sid, ['200', ('x-big-resp', gen(n // 2, 'big').hex())], b'ok')
        elif route == 'slow':
            later(int(arg), lambda: respond(sid, ['200'], b'slow'))
        elif route == 'goaway':
            respond(sid, ['200'], b'bye')
            peer.send_goaway(peer.conn.highest_inbound_stream_id)
            emit({'event': 'goaway', 'conn': cid, 'last': peer.conn.highest_inbound_stream_id})
        elif route == 'rst-mid':
            respond(sid, ['200'], gen(1000, 'mid'), end=False)
            later(50, lambda: peer.conn.reset_stream(sid, int(arg)))
        elif route == 'goaway-low':
            # A server going away that has not processed this stream: GOAWAY names the stream
            # before it as the last, and this one (and any later one) is never answered. The
            # same id asked again (on a new connection) is answered.
            if arg in goaway_low_seen:
                body = b''.join(st['body'])
                respond(sid, ['200', ('x-req-sha', sha(body))], b'retried')
            else:
                goaway_low_seen.add(arg)
                peer.send_goaway(sid - 2)
                emit({'event': 'goaway', 'conn': cid, 'last': sid - 2})
        elif route == 'secret':
            respond(sid, ['200', NeverIndexedHeaderTuple('x-secret-resp', 's3cr3t'), ('x-plain', 'p')], b'secret',
                    [NeverIndexedHeaderTuple('x-secret-trailer', 't0p'), ('x-plain-trailer', 'p')])
        elif route == 'early':
            peer.conn.send_headers(sid, [(':status', '103'), ('link', '</a.css>; rel=preload')])
            respond(sid, ['200'], b'early')
        elif route == 'hang':
            pass
        else:
            respond(sid, ['200'], ('ok ' + path).encode())

    def on_event(ev):
        if isinstance(ev, h2.events.RequestReceived):
            h = list(ev.headers)
            path = dict(h).get(':path', '')
            streams[ev.stream_id] = {'headers': h, 'path': path, 'body': [], 'trailers': [],
                                     'never': {x[0]: True for x in ev.headers if isinstance(x, NeverIndexedHeaderTuple)}}
            emit({'event': 'request', 'conn': cid, 'stream': ev.stream_id, 'path': path, 'open': peer.conn.open_inbound_streams})
            if peer.goaway is not None and ev.stream_id > peer.goaway:
                emit({'event': 'after-goaway', 'conn': cid, 'stream': ev.stream_id, 'path': path})
            if path.startswith('/rst/'):
                peer.conn.reset_stream(ev.stream_id, int(path.split('/')[2]))
                streams.pop(ev.stream_id)
            if OPTS.get('table_dance'):
                size = TABLE_SIZES[dance[0] % len(TABLE_SIZES)]
                dance[0] += 1
                peer.conn.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: size})
                peer.conn.encoder.header_table_size = TABLE_SIZES[dance[0] % len(TABLE_SIZES)]
        elif isinstance(ev, h2.events.DataReceived):
            if ev.flow_controlled_length > 16384:
                emit({'event': 'big-data-frame', 'length': ev.flow_controlled_length})
            st = streams.get(ev.stream_id)
            if st:
                st['body'].append(ev.data)
        elif isinstance(ev, h2.events.TrailersReceived):
            st = streams.get(ev.stream_id)
            if st:
                st['trailers'] = [list(x) for x in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded):
            if ev.stream_id in streams:
                on_request_done(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            st = streams.pop(ev.stream_id, None)
            peer.pending.pop(ev.stream_id, None)
            emit({'event': 'reset', 'conn': cid, 'stream': ev.stream_id, 'path': st['path'] if st else None, 'code': int(ev.error_code)})
        elif isinstance(ev, h2.events.ConnectionTerminated):
            emit({'event': 'peer-goaway', 'conn': cid, 'code': int(ev.error_code)})
        # A request whose path starts streaming at once (bytes before END_STREAM) needs nothing else.

    await peer.run(on_event)
    emit({'event': 'closed', 'conn': cid})


async def main():
    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    emit({'port': server.sockets[0].getsockname()[1]})
    async with server:
        await server.serve_forever()


asyncio.run(main())
