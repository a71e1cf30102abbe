/**
 * Fuzz target for one HTTP/2 connection (proxy/protocol/h2/connection.ts) in the server role, over
 * an in-memory socket (FakeSocket below: what H2Connection uses of a net.Socket, written to a
 * list, with a peer that reads or stops reading). One input is a program for a hostile client:
 *
 *   byte 0      0xfe: no preface (the bytes go as they are); otherwise the preface and an empty
 *               SETTINGS first
 *   then ops    each an opcode byte and its arguments (a short input reads zeros): HEADERS (a
 *               valid request encoded by a client-side HPACK encoder, or random bytes; padded,
 *               with priority fields, split for CONTINUATION), CONTINUATION, DATA, RST_STREAM,
 *               WINDOW_UPDATE (0, 1, 2^31-1, ...), SETTINGS (interesting ids and values, ACKs),
 *               PING, GOAWAY, PRIORITY, unknown types, raw bytes, floods of the next op (up to
 *               2000), rapid reset (HEADERS + RST_STREAM pairs), the app answering or resetting
 *               a stream, pausing it, the peer stopping or resuming reading, a FIN.
 *
 * Stream ids are drawn from a small grammar: the next new id, the last, one used before, 0, an
 * even id, 2^31-1.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import { H2Connection, type H2Stream } from '../../proxy/protocol/h2/connection';
import { FrameReader, FrameType, Flag, frame, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW, PREFACE, settingsFrame } from '../../proxy/protocol/h2/frames';
import { H2Error } from '../../proxy/protocol/h2/h2-error';
import { HpackDecoder } from '../../proxy/protocol/h2/hpack/decoder';
import { HpackEncoder } from '../../proxy/protocol/h2/hpack/encoder';
import type { H2Settings } from '../../proxy/protocol/h2/settings';
import { describeError, violations, type Fail } from '../target';

export const name = 'h2-connection';
export const properties = [
  'no-throw: feeding the socket, the app\'s calls and the socket events never throw, and no exception other than H2Error reaches the connection\'s error path (it would be logged "h2 connection failed")',
  'own-frames: everything the connection writes reads back as frames (the client\'s SETTINGS_MAX_FRAME_SIZE honoured), header blocks are contiguous and decode with HPACK, DATA stays within the windows the client granted (stream and connection)',
  'sane-state: after the input the connection is closed or its streams are the open ones the client started (odd ids up to the last, at most SETTINGS_MAX_CONCURRENT_STREAMS), with windows in range',
  'bounded: what the connection holds stays bounded by its limits: a partial frame, a header block (SETTINGS_MAX_HEADER_LIST_SIZE + slack), unread output (16 MiB cut-off), no frame left unwritten',
  'stream-events: every stream handed to the app gets exactly one onClose, last, and at most one onReset',
];
const fail: Fail = violations(name);

const SETTINGS: H2Settings = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_535,
  initialConnectionWindowSize: 131_072,
  maxSessionMemoryMb: 1,
  maxHeaderListSize: 16_384,
  keepAliveTimeoutMs: 0,
};
const BLOCK_SLACK = 16 * 1024;
const SOCKET_LIMIT = 16 * 1024 * 1024;
/** Frames one input may send in all (floods included), to keep an execution short. */
const MAX_FRAMES = 6000;

/** What H2Connection uses of a net.Socket, in memory. */
class FakeSocket extends EventEmitter {
  out: Buffer[] = [];
  reading = true;
  unread = 0;
  destroyed = false;
  writableEnded = false;
  closePending = false;
  bytesRead = 0;
  get writableLength(): number {
    return this.unread;
  }
  setNoDelay(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean {
    if (this.destroyed || this.writableEnded) return false;
    this.out.push(Buffer.from(b));
    if (!this.reading) this.unread += b.length;
    return !this.unread;
  }
  end(): this {
    if (!this.writableEnded) {
      this.writableEnded = true;
      this.closePending = true;
    }
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.closePending = true;
    }
    return this;
  }
}

class Cursor {
  p = 0;
  constructor(readonly b: Buffer) {}
  get done(): boolean {
    return this.p >= this.b.length;
  }
  u8(): number {
    return this.p < this.b.length ? this.b[this.p++]! : 0;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return ((this.u8() << 24) | (this.u8() << 16) | (this.u8() << 8) | this.u8()) >>> 0;
  }
  bytes(n: number): Buffer {
    const s = this.b.subarray(this.p, this.p + n);
    this.p += s.length;
    return s;
  }
}

const fill = (n: number, v = 0x61) => Buffer.alloc(n, v);
const WINDOW_INCREMENTS = [0, 1, 1000, 65_535, MAX_WINDOW, MAX_WINDOW - 65_535, 1 << 20];
const SETTING_IDS = [1, 2, 3, 4, 5, 6, 0, 7, 0xffff];
const SETTING_VALUES = [0, 1, 100, 4096, 16_383, 16_384, 16_385, 65_535, 65_536, 2 ** 24 - 1, 2 ** 24, MAX_WINDOW, 2 ** 31, 2 ** 32 - 1];
const METHODS = ['GET', 'POST', 'HEAD', 'CONNECT', 'PUT'];

interface AppStream {
  stream: H2Stream;
  closes: number;
  resets: number;
  eventsAfterClose: number;
}

/** The client's side of the exchange: its HPACK context, the ids it used, the windows it granted. */
class Client {
  enc = new HpackEncoder();
  nextId = 1;
  lastId = 0;
  used: number[] = [];
  /** The rest of a header block to go out in CONTINUATION frames. */
  pending: { id: number; rest: Buffer } | undefined;
  maxInitial = 65_535;
  maxFrame = 16_384;
  connGrant = 65_535;
  streamGrant = new Map<number, number>();
  bigBudget = 200_000;

  streamId(b: number): number {
    switch (b % 8) {
      case 0:
      case 1: {
        const id = this.nextId;
        this.nextId = Math.min(this.nextId + 2, MAX_WINDOW);
        this.lastId = id;
        this.used.push(id);
        return id;
      }
      case 2:
        return this.lastId || 1;
      case 3:
        return this.used.length ? this.used[(b >> 3) % this.used.length]! : 1;
      case 4:
        return 0;
      case 5:
        return 2 * ((b >> 3) + 1);
      case 6:
        return MAX_WINDOW;
      default:
        return 2 * (b >> 3) + 1;
    }
  }

  requestBlock(c: Cursor): Buffer {
    const k = c.u8();
    const m = METHODS[k % METHODS.length]!;
    const fields = [':method', m, ':scheme', 'http', ':path', k & 0x80 ? '' : `/p${k}`, ':authority', 'fuzz.test'];
    if (m === 'CONNECT') fields.splice(2, 4);
    if (k & 0x40) fields.push('content-length', String(c.u8()));
    if (k & 0x20) {
      // Past SETTINGS_MAX_HEADER_LIST_SIZE (16 KiB here) at times; the budget keeps floods of them quick.
      const n = c.u16() % 24_000;
      this.bigBudget -= n;
      if (this.bigBudget > 0) fields.push('x-big', 'v'.repeat(n));
    }
    if (k & 0x10) fields.push('te', k & 1 ? 'trailers' : 'gzip');
    if (k & 0x08) fields.push('Upper', 'x');
    return this.enc.encode(fields);
  }
}

export function run(input: Buffer): void {
  const sock = new FakeSocket();
  const errors: string[] = [];
  const log: Logger = {
    error: (m, f) => errors.push(`${m} ${JSON.stringify(f)}`),
    warn: () => {},
    info: () => {},
    debug: () => {},
    enabled: () => false,
    child: () => log,
  };
  const app: AppStream[] = [];
  const live: AppStream[] = [];
  const conn = new H2Connection(sock as unknown as Socket, { role: 'server', settings: SETTINGS, log }, {
    onStream: (stream) => {
      const a: AppStream = { stream, closes: 0, resets: 0, eventsAfterClose: 0 };
      app.push(a);
      live.push(a);
      const after = () => {
        if (a.closes > 0) a.eventsAfterClose++;
      };
      stream.events = {
        onHeaders: after,
        onData: after,
        onDrain: after,
        onReset: () => {
          after();
          a.resets++;
        },
        onClose: () => {
          a.closes++;
          const i = live.indexOf(a);
          if (i >= 0) live.splice(i, 1);
        },
      };
    },
  });
  const cl = new Client();
  const c = new Cursor(input);
  let frames = 0;
  let flooding = false;

  const guard = (what: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      fail('no-throw', `${what} threw ${describeError(e)}`, e);
    }
  };
  const send = (b: Buffer) => {
    if (sock.destroyed) return;
    sock.bytesRead += b.length;
    guard('the socket\'s data event', () => sock.emit('data', b));
  };
  const settle = () => {
    guard('flush', () => conn.flush());
    if (sock.closePending) {
      sock.closePending = false;
      guard('the socket\'s close event', () => sock.emit('close', false));
    }
    checkBounded(conn, sock);
  };

  if (input.length > 0 && input[0] === 0xfe) {
    c.p = 1;
    send(c.bytes(c.u8() + 1));
  } else {
    c.p = 1;
    send(Buffer.concat([PREFACE, settingsFrame([])]));
  }
  settle();

  // One op; `again` re-reads the same bytes for a flood.
  const op = (): void => {
    if (frames++ > MAX_FRAMES) return void (c.p = c.b.length);
    const code = c.u8() % 17;
    switch (code) {
      case 0: {
        const id = cl.streamId(c.u8());
        let flags = c.u8() & (Flag.END_STREAM | Flag.END_HEADERS | Flag.PADDED | Flag.PRIORITY);
        const kind = c.u8() % 4;
        // Random bytes, a trailer section, or a request.
        let block = kind === 0 ? c.bytes(c.u8()) : kind === 1 ? cl.enc.encode(['x-trailer', 'v', 'grpc-status', '0']) : cl.requestBlock(c);
        if ((flags & Flag.END_HEADERS) === 0 && block.length > 1) {
          const cut = 1 + (c.u8() % (block.length - 1));
          cl.pending = { id, rest: block.subarray(cut) };
          block = block.subarray(0, cut);
        } else flags |= Flag.END_HEADERS;
        const parts: Buffer[] = [];
        let padBytes = 0;
        if (flags & Flag.PADDED) {
          const pad = c.u8();
          parts.push(Buffer.from([pad]));
          // All of the padding, or too little of it (a PROTOCOL_ERROR).
          padBytes = c.u8() & 1 ? pad >> 1 : pad;
        }
        if (flags & Flag.PRIORITY) parts.push(Buffer.from([0, 0, 0, c.u8() & 7, 16]));
        parts.push(block, Buffer.alloc(padBytes));
        send(frame(FrameType.HEADERS, flags, id, Buffer.concat(parts)));
        break;
      }
      case 1: {
        const p = cl.pending;
        const flagsByte = c.u8();
        const id = p && flagsByte & 0x80 ? p.id : cl.streamId(c.u8());
        let payload: Buffer;
        let flags = flagsByte & Flag.END_HEADERS;
        if (p && p.id === id) {
          const n = flagsByte & 0x40 ? Math.max(1, p.rest.length >> 1) : p.rest.length;
          payload = p.rest.subarray(0, n);
          p.rest = p.rest.subarray(n);
          if (p.rest.length === 0) {
            flags |= Flag.END_HEADERS;
            cl.pending = undefined;
          }
        } else payload = flagsByte & 0x20 ? fill(16_384, 0) : c.bytes(c.u8());
        send(frame(FrameType.CONTINUATION, flags, id, payload));
        break;
      }
      case 2: {
        const id = cl.streamId(c.u8());
        const flags = c.u8() & (Flag.END_STREAM | Flag.PADDED);
        const n = c.u16() % 20_000;
        const pad = flags & Flag.PADDED ? c.u8() : -1;
        const payload = pad >= 0 ? Buffer.concat([Buffer.from([pad]), fill(n), Buffer.alloc(Math.min(pad, 255))]) : fill(n);
        send(frame(FrameType.DATA, flags, id, payload));
        break;
      }
      case 3: {
        const id = cl.streamId(c.u8());
        const b = Buffer.alloc(4);
        b.writeUInt32BE(c.u8() % 16);
        send(frame(FrameType.RST_STREAM, 0, id, b));
        break;
      }
      case 4: {
        const sel = c.u8();
        const id = sel & 1 ? 0 : cl.streamId(sel >> 1);
        const k = c.u8();
        const inc = k % 8 === 7 ? c.u32() & 0x7fffffff : WINDOW_INCREMENTS[k % 8]!;
        if (id === 0) cl.connGrant += inc;
        else cl.streamGrant.set(id, (cl.streamGrant.get(id) ?? 0) + inc);
        const b = Buffer.alloc(4);
        b.writeUInt32BE(inc);
        send(frame(FrameType.WINDOW_UPDATE, 0, id, b));
        break;
      }
      case 5: {
        const k = c.u8();
        if (k & 0x80) {
          send(frame(FrameType.SETTINGS, Flag.ACK, 0, k & 0x40 ? Buffer.alloc(6) : undefined));
          break;
        }
        const pairs: [number, number][] = [];
        for (let i = 0; i < (k & 3) + 1; i++) {
          const id = SETTING_IDS[c.u8() % SETTING_IDS.length]!;
          const vk = c.u8();
          const v = vk % 16 === 15 ? c.u32() : SETTING_VALUES[vk % SETTING_VALUES.length]!;
          pairs.push([id, v]);
          if (id === 4 && v <= MAX_WINDOW) cl.maxInitial = Math.max(cl.maxInitial, v);
          if (id === 5 && v >= 16_384 && v <= MAX_ALLOWED_FRAME_SIZE) cl.maxFrame = Math.max(cl.maxFrame, v);
        }
        send(settingsFrame(pairs));
        break;
      }
      case 6:
        send(frame(FrameType.PING, c.u8() & 1 ? Flag.ACK : 0, 0, c.u8() & 1 ? fill(8) : fill(c.u8() % 12)));
        break;
      case 7: {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(cl.streamId(c.u8()));
        b.writeUInt32BE(c.u8() % 14, 4);
        send(frame(FrameType.GOAWAY, 0, 0, Buffer.concat([b, c.bytes(c.u8() % 16)])));
        break;
      }
      case 8: {
        const id = cl.streamId(c.u8());
        const dep = cl.streamId(c.u8());
        const b = Buffer.from([0, 0, 0, 0, c.u8()]);
        b.writeUInt32BE(dep, 0);
        send(frame(FrameType.PRIORITY, 0, id, c.u8() & 1 ? b : b.subarray(0, 4)));
        break;
      }
      case 9:
        send(c.bytes(c.u8()));
        break;
      case 10: {
        // A flood: the next op, again and again (a flood inside a flood is one op of it).
        const n = [10, 100, 1000, 2000][c.u8() % 4]!;
        if (flooding) break;
        const at = c.p;
        flooding = true;
        for (let i = 0; i < n && !sock.destroyed && frames <= MAX_FRAMES; i++) {
          c.p = at;
          op();
        }
        flooding = false;
        break;
      }
      case 11: {
        // Rapid reset: open a stream and cancel it at once.
        const n = [10, 200, 1500][c.u8() % 3]!;
        for (let i = 0; i < n && !sock.destroyed && frames++ <= MAX_FRAMES; i++) {
          const id = cl.streamId(0);
          send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, cl.enc.encode([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'a'])));
          const b = Buffer.alloc(4);
          b.writeUInt32BE(8);
          send(frame(FrameType.RST_STREAM, 0, id, b));
        }
        break;
      }
      case 12: {
        // The app acts on one of its open streams.
        const k = c.u8();
        const a = live.length ? live[c.u8() % live.length] : undefined;
        if (!a) break;
        const s = a.stream;
        guard('the app\'s call', () => {
          switch (k % 8) {
            case 0:
              if (!s.headersOut) s.sendHeaders([':status', '200', 'x-k', String(k)], (k & 0x80) !== 0);
              break;
            case 1:
              if (s.headersOut) s.sendData(fill(c.u16() % 70_000, 0x62), (k & 0x80) !== 0);
              break;
            case 2:
              if (s.headersOut) s.sendTrailers(['x-t', '1']);
              break;
            case 3:
              s.reset(c.u8() % 14);
              break;
            case 4:
              s.pause();
              break;
            case 5:
              s.resume();
              break;
            case 6:
              if (s.headersOut) s.end();
              break;
            default:
              if (!s.headersOut) s.sendHeaders([':status', '103']);
          }
        });
        break;
      }
      case 13:
        // The peer stops reading, or reads everything again.
        if (sock.reading) sock.reading = false;
        else {
          sock.reading = true;
          sock.unread = 0;
          guard('the socket\'s drain event', () => sock.emit('drain'));
        }
        break;
      case 14: {
        const t = 10 + (c.u8() % 246);
        send(frame(t, c.u8(), cl.streamId(c.u8()), c.bytes(c.u8() % 32)));
        break;
      }
      case 15:
        if (c.u8() % 8 === 0) guard('the socket\'s end event', () => sock.emit('end'));
        break;
      default:
        guard('ping', () => conn.ping(() => {}));
    }
  };
  while (!c.done && !sock.destroyed) {
    op();
    settle();
  }
  settle();
  checkState(conn, app);
  checkOutput(sock, cl);
  // The end: the socket goes away; every stream must hear it.
  guard('destroy', () => conn.destroy());
  settle();
  if (!sock.destroyed && !sock.writableEnded) fail('sane-state', 'destroy() left the socket open');
  for (const a of app) {
    if (a.closes !== 1) fail('stream-events', `stream ${a.stream.id} got ${a.closes} onClose`);
    if (a.resets > 1) fail('stream-events', `stream ${a.stream.id} got ${a.resets} onReset`);
    if (a.eventsAfterClose > 0) fail('stream-events', `stream ${a.stream.id} got ${a.eventsAfterClose} events after onClose`);
  }
  if (conn.streams.size !== 0) fail('sane-state', `${conn.streams.size} streams left after destroy`);
  if (errors.length > 0) fail('no-throw', `an exception other than H2Error reached the engine's error path: ${errors[0]!.slice(0, 300)}`);
}

interface Inside {
  reader: FrameReader;
  headerBlock: { pending: { bytes: number } | undefined };
  output: { bytes: number };
  peerOpened: number;
  sender: { connWindow: number };
  lastPeerStreamId: number;
}

function checkBounded(conn: H2Connection, sock: FakeSocket): void {
  const i = conn as unknown as Inside;
  // (A connection that ended on an error reads nothing more; its reader keeps the chunk it refused.)
  if (!conn.destroyed && i.reader.buffered > 9 + 16_384) fail('bounded', `${i.reader.buffered} bytes buffered towards one frame`);
  const held = i.headerBlock.pending?.bytes ?? 0;
  if (!conn.destroyed && held > SETTINGS.maxHeaderListSize + BLOCK_SLACK + 16_384) fail('bounded', `a header block of ${held} bytes held`);
  if (i.output.bytes !== 0) fail('bounded', `${i.output.bytes} bytes of frames left unwritten after a flush`);
  if (sock.unread > 2 * SOCKET_LIMIT) fail('bounded', `${sock.unread} bytes written to a peer that does not read`);
}

function checkState(conn: H2Connection, app: AppStream[]): void {
  const i = conn as unknown as Inside;
  if (conn.destroyed) return;
  if (conn.streams.size > SETTINGS.maxConcurrentStreams) fail('sane-state', `${conn.streams.size} streams open, the limit is ${SETTINGS.maxConcurrentStreams}`);
  if (i.peerOpened !== conn.streams.size) fail('sane-state', `peerOpened ${i.peerOpened} with ${conn.streams.size} streams`);
  if (i.sender.connWindow > MAX_WINDOW) fail('sane-state', `connection send window ${i.sender.connWindow}`);
  for (const [id, s] of conn.streams) {
    if (s.id !== id || id % 2 !== 1 || id > i.lastPeerStreamId) fail('sane-state', `stream ${id} open (last peer stream ${i.lastPeerStreamId})`);
    if (s.closed) fail('sane-state', `stream ${id} closed but still in the map`);
    if (s.sendWindow > MAX_WINDOW) fail('sane-state', `stream ${id} send window ${s.sendWindow}`);
    if (s.recvWindow < 0) fail('sane-state', `stream ${id} receive window ${s.recvWindow}`);
  }
  for (const a of app) {
    if (a.closes === 0 && conn.streams.get(a.stream.id) !== a.stream) fail('sane-state', `the app's stream ${a.stream.id} is neither closed nor open`);
  }
}

function checkOutput(sock: FakeSocket, cl: Client): void {
  const r = new FrameReader(MAX_ALLOWED_FRAME_SIZE);
  const dec = new HpackDecoder({ maxTableSize: 65_536 });
  const sent = new Map<number, number>();
  let connSent = 0;
  let block: { id: number; parts: Buffer[] } | undefined;
  let first = true;
  for (const chunk of sock.out) {
    try {
      r.push(chunk, (type, flags, id, payload) => {
        if (first && type !== FrameType.SETTINGS) fail('own-frames', `the first frame written is type ${type}`);
        first = false;
        if (payload.length > cl.maxFrame) fail('own-frames', `a frame of ${payload.length} bytes past the client's SETTINGS_MAX_FRAME_SIZE ${cl.maxFrame}`);
        if (block && (type !== FrameType.CONTINUATION || id !== block.id)) fail('own-frames', `frame type ${type} inside our header block on stream ${block.id}`);
        if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
          if (type === FrameType.CONTINUATION && !block) fail('own-frames', 'a CONTINUATION without a header block');
          block ??= { id, parts: [] };
          block.parts.push(Buffer.from(payload));
          if (flags & Flag.END_HEADERS) {
            try {
              dec.decode(Buffer.concat(block.parts));
            } catch (e) {
              fail('own-frames', `our header block on stream ${id} does not decode: ${describeError(e)}`, e);
            }
            block = undefined;
          }
        }
        if (type === FrameType.DATA) {
          const n = (sent.get(id) ?? 0) + payload.length;
          sent.set(id, n);
          connSent += payload.length;
          const grant = cl.maxInitial + (cl.streamGrant.get(id) ?? 0);
          if (n > grant) fail('own-frames', `${n} DATA bytes on stream ${id}; the client granted at most ${grant}`);
          if (connSent > cl.connGrant) fail('own-frames', `${connSent} DATA bytes on the connection; the client granted ${cl.connGrant}`);
        }
        return true;
      });
    } catch (e) {
      if (e instanceof H2Error) fail('own-frames', `what we wrote does not read as frames: ${e.message}`, e);
      throw e;
    }
  }
}

const b = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
export const dictionary = [b('00 01 05'), b('00 00 05 00'), b('0a 03 0b'), b('0a 02 06 00'), b('0b 01'), b('0d'), b('0c 01 00'), b('04 01 03'), b('05 00 03 0f 7fffffff'), b('10'), b('02 02 01 4000')];

/** Seeds: programs a real client would run, then hostile ones. */
export function makeSeeds(): Record<string, Buffer> {
  const NEW = 0; // streamId(): the next new stream
  const LAST = 2; // streamId(): the last one opened
  const EH = Flag.END_HEADERS;
  const ES = Flag.END_STREAM;
  // HEADERS with a request: k picks the method (k % 5) and options (0x40 content-length: one more byte).
  const get = (flags = EH | ES) => [0, NEW, flags, 2, 0];
  const post = (len: number) => [0, NEW, EH, 2, 0x41, len];
  const trailers = [0, LAST, EH | ES, 1];
  const data = (n: number, flags = 0) => [2, LAST, flags, n >> 8, n & 255];
  const answer = [12, 0, 0]; // the app sends 200 on its first open stream
  const answerData = (n: number, end = true) => [12, end ? 0x81 : 1, 0, n >> 8, n & 255];
  const answerTrailers = [12, 2, 0];
  const wu = (streamSel: number, k: number) => [4, streamSel, k];
  const seeds: Record<string, number[]> = {
    'get-and-answer.bin': [...get(), ...answer, ...answerData(0x4000, false), ...answerTrailers],
    'post-body-trailers.bin': [...post(16), ...data(16), ...trailers, ...answer, ...answerData(100)],
    'post-padded-priority.bin': [0, NEW, EH | Flag.PADDED | Flag.PRIORITY, 2, 0x41, 200, 10, 0, 3, ...data(100, Flag.PADDED), 7, 0, ...data(100, ES), ...answer, ...answerData(5)],
    'continuation.bin': [0, NEW, ES, 2, 0x20, 0x75, 0x30, 100, 1, 0x80 | 0x40, 1, 0x80, ...answer, ...answerData(10)],
    'big-answer-windows.bin': [...get(), ...answer, ...answerData(0xffff), ...answerData(0xffff), ...wu(1, 4), ...wu(LAST << 1, 3), ...wu(1, 2), ...wu(LAST << 1, 3)],
    'settings-mid-stream.bin': [...get(), ...answer, ...answerData(0xffff, false), 5, 2, 3, 7, 4, 8, 0, 0, ...wu(1, 3), ...answerData(100)],
    'many-streams.bin': [10, 1, ...get(), 10, 1, 12, 0, 0],
    'ping-flood-no-read.bin': [13, 10, 3, 6, 0, 1],
    'rapid-reset.bin': [11, 2],
    'rst-flood.bin': [...get(EH), 10, 3, 3, LAST, 8],
    'continuation-flood.bin': [0, NEW, 0, 2, 0, 1, 10, 3, 1, 0x80 | 0x20],
    'settings-flood-no-read.bin': [13, 10, 3, 5, 3, 3, 3, 4, 8, 5, 6, 6, 5],
    'goaway-priority-unknown.bin': [...get(EH), 8, NEW, LAST, 16, 1, 14, 5, 0, LAST, 4, 1, 2, 3, 4, 7, LAST, 0, 0, ...answer, ...answerData(4)],
    'fin.bin': [...get(), 15, 0],
  };
  const out: Record<string, Buffer> = {};
  for (const [f, ops] of Object.entries(seeds)) out[f] = Buffer.from([0, ...ops]);
  out['no-preface.bin'] = Buffer.concat([Buffer.from([0xfe, 26]), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
  return out;
}

export const known: { match: RegExp; why: string }[] = [];

const target = { name, properties, run, dictionary, known, maxInputBytes: 4096 };
export default target;
