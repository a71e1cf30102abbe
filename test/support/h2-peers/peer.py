"""
What the Python h2 peers (client.py, server.py) share: one HTTP/2 connection driven by the
independent `h2` library (python3-h2) over an asyncio stream, with

- sending that honours the other side's windows and frame size (DATA waits for WINDOW_UPDATE),
- receive windows under our control: automatic, or manual with a small stream window
  (SETTINGS_INITIAL_WINDOW_SIZE) and a small connection window (bytes withheld for good, so the
  connection window never reopens past `conn_window`); h2 itself raises FlowControlError if the
  other side ever sends past a window,
- optional padding on every HEADERS and DATA frame we send, and PRIORITY frames (on idle and open
  streams) and the PRIORITY flag on HEADERS,
- GOAWAY written by hand (h2's close_connection would stop the streams still in flight).

Bodies are made by gen(n, seed): SHA-256 of "seed:k" for k = 0, 1, ... cut to n bytes, so that
the TypeScript test can make the same bytes.
"""
import asyncio
import hashlib
import json
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def gen(n, seed='x'):
    out = bytearray()
    k = 0
    while len(out) < n:
        out += hashlib.sha256(f'{seed}:{k}'.encode()).digest()
        k += 1
    return bytes(out[:n])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def frame(ftype, flags, sid, payload):
    return struct.pack('>I', len(payload))[1:] + bytes([ftype, flags]) + struct.pack('>I', sid & 0x7fffffff) + payload


class Peer:
    def __init__(self, reader, writer, client_side, opts):
        self.reader = reader
        self.writer = writer
        self.opts = opts
        cfg = h2.config.H2Configuration(client_side=client_side, header_encoding='utf-8', validate_inbound_headers=True)
        self.conn = h2.connection.H2Connection(config=cfg)
        # What we send: per stream, chunks waiting for window, then trailers or END_STREAM.
        self.pending = {}
        self.pad = int(opts.get('pad', 0))
        self.priority = bool(opts.get('priority', False))
        self.manual_window = 'window' in opts or 'conn_window' in opts
        self.stream_window = int(opts.get('window', 65535))
        # Connection-level bytes never given back: the connection window stays at conn_window.
        self.withhold = 65535 - int(opts.get('conn_window', 65535))
        self.withheld = 0
        self.conn_owed = 0
        self.closed = False
        self.goaway = None

    def start(self, extra_settings=None):
        self.conn.initiate_connection()
        s = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000, h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20}
        if 'window' in self.opts:
            s[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = self.stream_window
        if 'max_frame_size' in self.opts:
            s[h2.settings.SettingCodes.MAX_FRAME_SIZE] = int(self.opts['max_frame_size'])
        if 'max_concurrent' in self.opts:
            s[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = int(self.opts['max_concurrent'])
        s.update(extra_settings or {})
        self.conn.update_settings(s)
        self.flush()

    # ---- output ----

    def flush(self):
        data = self.conn.data_to_send()
        if not data:
            return
        if self.pad:
            data = self.pad_headers(data)
        self.writer.write(data)

    def pad_headers(self, data):
        """HEADERS frames h2 wrote, padded (PADDED flag, pad length, zeros): h2 cannot pad them."""
        out = bytearray()
        p = 0
        if data.startswith(b'PRI * HTTP/2.0'):
            out += data[:24]
            p = 24
        while p + 9 <= len(data):
            length = int.from_bytes(data[p:p + 3], 'big')
            ftype, flags = data[p + 3], data[p + 4]
            sid = int.from_bytes(data[p + 5:p + 9], 'big')
            payload = data[p + 9:p + 9 + length]
            p += 9 + length
            if ftype == 1 and not flags & 0x8 and length + self.pad + 1 <= 16384:
                payload = bytes([self.pad]) + payload + bytes(self.pad)
                flags |= 0x8
            out += frame(ftype, flags, sid, payload)
        out += data[p:]
        return bytes(out)

    def raw(self, b):
        self.flush()
        self.writer.write(b)

    def send_goaway(self, last_stream_id, code=0, debug=b''):
        """GOAWAY by hand: h2 keeps serving the streams at or below last_stream_id."""
        self.goaway = last_stream_id
        self.raw(frame(7, 0, 0, struct.pack('>II', last_stream_id & 0x7fffffff, code) + debug))

    def send_headers(self, sid, headers, end_stream=False):
        kw = {}
        if self.priority:
            # PRIORITY on the still idle stream, then HEADERS carrying the PRIORITY flag.
            self.conn.prioritize(sid, weight=200, depends_on=0, exclusive=False)
            kw = dict(priority_weight=100, priority_depends_on=0, priority_exclusive=False)
        self.conn.send_headers(sid, headers, end_stream=end_stream, **kw)
        if self.priority and not end_stream:
            self.conn.prioritize(sid, weight=16, depends_on=0, exclusive=False)

    def send_body(self, sid, data, end=True, trailers=None, chunk=None):
        """Queues a body (in pieces of `chunk` bytes per send call) then trailers or END_STREAM."""
        q = self.pending.setdefault(sid, {'chunks': [], 'end': False, 'trailers': None})
        step = chunk or len(data) or 1
        for i in range(0, len(data), step):
            q['chunks'].append(data[i:i + step])
        q['end'] = end
        q['trailers'] = trailers
        self.pump()

    def pump(self):
        for sid in list(self.pending):
            q = self.pending[sid]
            try:
                while q['chunks']:
                    c = q['chunks'][0]
                    room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                    pad = self.pad if self.pad else None
                    cost = len(c) + ((self.pad + 1) if pad else 0)
                    if room <= 0 or (pad and room <= self.pad + 1):
                        break
                    if cost > room:
                        n = room - ((self.pad + 1) if pad else 0)
                        self.conn.send_data(sid, c[:n], pad_length=pad)
                        q['chunks'][0] = c[n:]
                        continue
                    self.conn.send_data(sid, c, pad_length=pad)
                    q['chunks'].pop(0)
                if not q['chunks']:
                    del self.pending[sid]
                    if q['trailers'] is not None:
                        self.conn.send_headers(sid, q['trailers'], end_stream=True)
                    elif q['end']:
                        self.conn.end_stream(sid)
            except (h2.exceptions.StreamClosedError, KeyError):
                self.pending.pop(sid, None)
            except h2.exceptions.ProtocolError as e:
                emit({'event': 'send-error', 'stream': sid, 'error': repr(e)})
                self.pending.pop(sid, None)
        self.flush()

    # ---- input ----

    def received_data(self, ev):
        """Gives window back for a DataReceived: at once (automatic) or under the small windows."""
        n = ev.flow_controlled_length
        if n == 0:
            return
        if not self.manual_window:
            try:
                self.conn.acknowledge_received_data(n, ev.stream_id)
            except h2.exceptions.StreamClosedError:
                pass
            return
        try:
            if not ev.stream_ended:
                self.conn.increment_flow_control_window(n, stream_id=ev.stream_id)
        except (h2.exceptions.StreamClosedError, KeyError):
            pass
        keep = min(n, self.withhold - self.withheld)
        self.withheld += keep
        if n - keep > 0:
            self.conn.increment_flow_control_window(n - keep)

    async def run(self, on_event):
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError as e:
                    emit({'event': 'protocol-error', 'error': repr(e)})
                    self.flush()
                    break
                for ev in events:
                    if isinstance(ev, h2.events.DataReceived):
                        self.received_data(ev)
                    on_event(ev)
                self.pump()
                self.flush()
                await self.writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed = True
            try:
                self.writer.close()
            except Exception:
                pass
