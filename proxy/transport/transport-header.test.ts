import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTransportHeader, encodeTransportHeader, TRANSPORT_PREFACE, TransportHeaderError } from './transport-header';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('opaque-transport header', () => {
  it('encodes as linkerd2-proxy does: preface, u32 length, protobuf port (and name)', () => {
    // port 4040 = varint c8 1f; name field 2.
    assert.deepEqual(encodeTransportHeader({ port: 4040 }), Buffer.concat([TRANSPORT_PREFACE, hex('00000003 08 c81f')]));
    assert.deepEqual(
      encodeTransportHeader({ port: 80, name: 'a.b' }),
      Buffer.concat([TRANSPORT_PREFACE, hex('00000007 08 50 12 03'), Buffer.from('a.b')]),
    );
  });

  it('reads a header and says where the payload starts', () => {
    const b = Buffer.concat([encodeTransportHeader({ port: 25 }), Buffer.from('EHLO x\r\n')]);
    const r = decodeTransportHeader(b);
    assert.deepEqual(r, { kind: 'ok', header: { port: 25 }, length: b.length - 8 });
  });

  it('skips fields it does not know (session_protocol from a Linkerd proxy)', () => {
    const msg = hex('08 50 1a 02 0a 00 25 01020304');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(msg.length);
    assert.deepEqual(decodeTransportHeader(Buffer.concat([TRANSPORT_PREFACE, len, msg])), { kind: 'ok', header: { port: 80 }, length: TRANSPORT_PREFACE.length + 4 + msg.length });
  });

  it('refuses what cannot be a header, with a typed error', () => {
    const bad = (b: Buffer, why: RegExp) => assert.throws(() => decodeTransportHeader(b), (e: unknown) => e instanceof TransportHeaderError && e.code === 'LINNET_TRANSPORT_HEADER_INVALID' && why.test(e.message));
    bad(Buffer.from('GET / HTTP/1.1\r\n'), /preface/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('ffffffff')]), /exceeds/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000002 08 00')]), /port 0/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000004 08 80 80 04')]), /port 65536/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000000')]), /port 0/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000003 08 50 12')]), /varint/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000004 08 50 12 05')]), /past the message/);
    bad(Buffer.concat([TRANSPORT_PREFACE, hex('00000003 08 50 0f')]), /wire type/);
    assert.throws(() => encodeTransportHeader({ port: 0 }), TransportHeaderError);
  });

  it('round-trips any port and DNS name, and every proper prefix is need-more', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.option(fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.')), { nil: undefined }), fc.uint8Array({ maxLength: 20 }), (port, name, tail) => {
        const h = name ? { port, name } : { port };
        const enc = encodeTransportHeader(h);
        const b = Buffer.concat([enc, tail]);
        assert.deepEqual(decodeTransportHeader(b), { kind: 'ok', header: h, length: enc.length });
        for (let cut = 0; cut < enc.length; cut++) assert.deepEqual(decodeTransportHeader(b.subarray(0, cut)), { kind: 'need-more' });
      }),
    );
  });

  it('never throws anything but its typed error on random bytes after the preface', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        try {
          decodeTransportHeader(Buffer.concat([TRANSPORT_PREFACE, tail]));
        } catch (e) {
          assert.ok(e instanceof TransportHeaderError, String(e));
        }
      }),
    );
  });
});
