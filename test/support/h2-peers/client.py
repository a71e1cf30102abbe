"""
An HTTP/2 client (prior knowledge, no TLS) made with Python's h2, for the interop tests.

usage: python3 client.py '<json spec>'   prints one JSON object: the results
spec: {"port": N, "opts": {...peer.py options...}, "steps": [step, ...]}, steps in order:
  {"requests": [req, ...]}   all sent at once on the connection; the step ends when each is done
      req: {"method", "path", "authority", "headers": [[k, v] | [k, v, "never"]], "body": N (gen(N, seed)), "seed",
            "trailers": [[k, v]], "reset_after_ms": T, "reset_code": C}
      (reset_after_ms: the client resets the stream T ms after sending its headers and half of
       its body)
  {"settings": {"header_table_size": S}}   SETTINGS mid-connection (waits for its ACK)
  {"encoder_table_size": S}                our encoder's table size (a size update in the next block)
  {"ping": "8 bytes"}                      PING; waits for the ACK
  {"sleep": MS}
result: {"steps": [[res, ...] | {...}], "goaway": {...} | null, "errors": [...]}
  res: {"status", "headers", "body_len", "body_sha", "trailers", "reset": code | null,
        "sent_sha", "sent_len", "never": names that came never-indexed (HPACK) in headers or trailers}
"""
import asyncio
import json
import sys

import h2.events
import h2.settings
from hpack import NeverIndexedHeaderTuple

from peer import Peer, gen, sha

SPEC = json.loads(sys.argv[1])


async def main():
    reader, writer = await asyncio.open_connection(SPEC.get('host', '127.0.0.1'), SPEC['port'])
    opts = SPEC.get('opts', {})
    peer = Peer(reader, writer, True, opts)
    out = {'steps': [], 'goaway': None, 'errors': []}
    streams = {}
    waiters = {'settings': [], 'ping': []}

    def finish(st):
        if not st['fut'].done():
            st['fut'].set_result(None)

    def on_event(ev):
        st = streams.get(getattr(ev, 'stream_id', None))
        if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and st:
            st['res'].setdefault('never', []).extend(x[0] for x in ev.headers if isinstance(x, NeverIndexedHeaderTuple))
        if isinstance(ev, h2.events.ResponseReceived) and st:
            st['res']['status'] = dict(ev.headers).get(':status')
            st['res']['headers'] = [list(x) for x in ev.headers]
        elif isinstance(ev, h2.events.InformationalResponseReceived) and st:
            st['res'].setdefault('informational', []).append([list(x) for x in ev.headers])
        elif isinstance(ev, h2.events.DataReceived) and st:
            st['body'].append(ev.data)
        elif isinstance(ev, h2.events.TrailersReceived) and st:
            st['res']['trailers'] = [list(x) for x in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded) and st:
            finish(st)
        elif isinstance(ev, h2.events.StreamReset) and st:
            st['res']['reset'] = int(ev.error_code)
            peer.pending.pop(ev.stream_id, None)
            finish(st)
        elif isinstance(ev, h2.events.SettingsAcknowledged):
            for f in waiters['settings']:
                if not f.done():
                    f.set_result(None)
            waiters['settings'] = []
        elif isinstance(ev, h2.events.PingAckReceived):
            for f in waiters['ping']:
                if not f.done():
                    f.set_result(ev.ping_data.decode('latin1'))
            waiters['ping'] = []
        elif isinstance(ev, h2.events.ConnectionTerminated):
            out['goaway'] = {'code': int(ev.error_code), 'last': ev.last_stream_id}

    peer.start()
    runner = asyncio.ensure_future(peer.run(on_event))
    loop = asyncio.get_running_loop()

    def send_request(r):
        sid = peer.conn.get_next_available_stream_id()
        fut = loop.create_future()
        st = {'fut': fut, 'body': [], 'res': {'status': None, 'headers': None, 'trailers': None, 'reset': None}}
        streams[sid] = st
        n = int(r.get('body', -1))
        body = gen(n, r.get('seed', 'up')) if n >= 0 else None
        trailers = [tuple(x) for x in r['trailers']] if r.get('trailers') else None
        headers = [(':method', r.get('method', 'GET' if body is None else 'POST')), (':scheme', 'http'),
                   (':authority', r.get('authority', 'interop.test')), (':path', r['path'])]
        # [name, value, "never"]: sent with HPACK's never-indexed literal.
        headers += [NeverIndexedHeaderTuple(x[0], x[1]) if len(x) > 2 else tuple(x) for x in r.get('headers', [])]
        end = body is None and trailers is None
        peer.send_headers(sid, headers, end_stream=end)
        st['res']['stream'] = sid
        if body is not None or trailers is not None:
            body = body or b''
            st['res']['sent_sha'] = sha(body)
            st['res']['sent_len'] = len(body)
            if 'reset_after_ms' in r:
                peer.send_body(sid, body[:len(body) // 2], end=False, chunk=opts.get('chunk'))
            else:
                peer.send_body(sid, body, end=True, trailers=trailers, chunk=opts.get('chunk'))
        peer.flush()
        if 'reset_after_ms' in r:
            def reset():
                if fut.done():
                    return
                peer.pending.pop(sid, None)
                peer.conn.reset_stream(sid, int(r.get('reset_code', 8)))
                peer.flush()
                st['res']['reset_sent'] = int(r.get('reset_code', 8))
                finish(st)
            loop.call_later(r['reset_after_ms'] / 1000, reset)
        return st

    for step in SPEC['steps']:
        if 'requests' in step:
            sts = [send_request(r) for r in step['requests']]
            try:
                await asyncio.wait_for(asyncio.gather(*[s['fut'] for s in sts]), SPEC.get('timeout', 30))
            except asyncio.TimeoutError:
                out['errors'].append('timeout')
            res = []
            for s in sts:
                body = b''.join(s['body'])
                s['res']['body_len'] = len(body)
                s['res']['body_sha'] = sha(body)
                if len(body) <= 64:
                    s['res']['body'] = body.decode('latin1')
                res.append(s['res'])
            out['steps'].append(res)
        elif 'settings' in step:
            f = loop.create_future()
            waiters['settings'].append(f)
            s = {}
            if 'header_table_size' in step['settings']:
                s[h2.settings.SettingCodes.HEADER_TABLE_SIZE] = int(step['settings']['header_table_size'])
            peer.conn.update_settings(s)
            peer.flush()
            await asyncio.wait_for(f, 10)
            out['steps'].append({'settings': 'acked'})
        elif 'encoder_table_size' in step:
            peer.conn.encoder.header_table_size = int(step['encoder_table_size'])
            out['steps'].append({'encoder_table_size': step['encoder_table_size']})
        elif 'ping' in step:
            f = loop.create_future()
            waiters['ping'].append(f)
            peer.conn.ping(step['ping'].encode('latin1'))
            peer.flush()
            out['steps'].append({'ping': await asyncio.wait_for(f, 10)})
        elif 'sleep' in step:
            await asyncio.sleep(step['sleep'] / 1000)
            out['steps'].append({'slept': step['sleep']})
        if peer.closed and out['goaway'] is None and step is not SPEC['steps'][-1]:
            out['errors'].append('connection closed')
            break
    peer.conn.close_connection()
    peer.flush()
    try:
        await writer.drain()
    except ConnectionError:
        pass
    peer.closed = True
    writer.close()
    runner.cancel()
    print(json.dumps(out))


asyncio.run(main())
