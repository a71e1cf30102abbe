/**
 * Our .proto reader and codec against protobufjs (what @grpc/proto-loader runs on), message by
 * message of every contract file: random objects encoded by one and decoded by the other give
 * the same objects as proto-loader's options produce them; and the codec refuses what is not a
 * message without throwing anything but ProtoDecodeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { protoFile } from '../proto-file';
import { ProtoCodec, ProtoDecodeError } from './codec';
import { parseProto, ProtoSyntaxError, type FieldDef, type Schema } from './schema';

// Every contract file, so that a new one is covered the day it lands.
const FILES = readdirSync(dirname(protoFile('destination.proto'))).filter((f) => f.endsWith('.proto')).sort();
const toObject = (longs: 'number' | 'string'): protobuf.IConversionOptions => ({ longs: longs === 'string' ? String : Number, enums: String, defaults: true, oneofs: true, bytes: Buffer as unknown as StringConstructor });

function load(name: string): { schema: Schema; root: protobuf.Root } {
  const path = protoFile(name);
  const schema = parseProto(readFileSync(path, 'utf8'));
  const root = new protobuf.Root();
  root.loadSync(path, { keepCase: true });
  return { schema, root };
}

function scalar(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string': return fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'bytes': return fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
    case 'bool': return fc.boolean();
    case 'int32': case 'sint32': case 'sfixed32': return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32': case 'fixed32': return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64': case 'sint64': case 'sfixed64': return fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    case 'uint64': case 'fixed64': return fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    case 'float': return fc.float({ noNaN: true }).map((f) => Math.fround(f));
    case 'double': return fc.double({ noNaN: true });
  }
  throw new Error(type);
}

function arbitraryOf(schema: Schema, type: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const m = schema.messages.get(type)!;
  const value = (f: FieldDef): fc.Arbitrary<unknown> =>
    f.kind === 'scalar' ? scalar(f.type) : f.kind === 'enum' ? fc.constantFrom(...schema.enums.get(f.type)!.byName.keys()) : depth > 3 ? fc.constant({}) : arbitraryOf(schema, f.type, depth + 1);
  const plain = m.fields.filter((f) => f.oneof === undefined);
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of plain) {
    parts[f.name] = f.mapKey ? fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), value(f), { maxKeys: 3 }) : f.repeated ? fc.array(value(f), { maxLength: depth > 2 ? 0 : 3 }) : value(f);
  }
  const oneofs = m.oneofs.map((o) => {
    const members = m.fields.filter((f) => f.oneof === o);
    return fc.option(fc.oneof(...members.map((f) => value(f).map((v) => ({ [f.name]: v, [o]: f.name })))), { nil: undefined });
  });
  return fc.record(parts, { requiredKeys: [] }).chain((base) => fc.tuple(...oneofs).map((chosen) => Object.assign({}, base, ...chosen.filter(Boolean))));
}

for (const [file, longs] of FILES.flatMap((f) => [[f, 'number'], [f, 'string']] as const)) {
  test(`${file} (64-bit as ${longs}s): every message round-trips between our codec and protobufjs`, () => {
    const { schema, root } = load(file);
    const codec = new ProtoCodec(schema, { longs });
    const TO_OBJECT = toObject(longs);
    assert.ok(schema.messages.size >= 2);
    for (const name of schema.messages.keys()) {
      const pb = root.lookupType(name);
      fc.assert(
        fc.property(arbitraryOf(schema, name, 0), (obj) => {
          const ours = codec.encode(name, obj);
          const theirsReading = pb.toObject(pb.decode(ours), TO_OBJECT);
          assert.deepStrictEqual(codec.decode(name, ours), theirsReading, `${name}: our bytes read by each`);
          const theirs = pb.encode(pb.fromObject(obj)).finish();
          assert.deepStrictEqual(codec.decode(name, theirs), pb.toObject(pb.decode(theirs), TO_OBJECT), `${name}: protobufjs's bytes read by each`);
        }),
        { numRuns: 40 },
      );
    }
    // Methods: the paths gRPC uses.
    for (const s of schema.services.values()) for (const m of s.methods.values()) assert.match(m.path, /^\/[\w.]+\/\w+$/);
  });
}

test('the contract files are all read', () => assert.ok(FILES.length >= 3, FILES.join()));

test('bytes that are not a message: only ProtoDecodeError', () => {
  const { schema } = load('destination.proto');
  const codec = new ProtoCodec(schema);
  const names = [...schema.messages.keys()];
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.uint8Array({ maxLength: 64 }), (name, bytes) => {
      try {
        codec.decode(name, bytes);
      } catch (err) {
        if (!(err instanceof ProtoDecodeError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

test('the reader refuses what it does not support, with the reason', () => {
  assert.throws(() => parseProto('syntax = "proto2"; message A { optional int32 a = 1; }'), /proto3 only/);
  assert.throws(() => parseProto('syntax = "proto3"; message A { B b = 1; }'), ProtoSyntaxError);
  assert.throws(() => parseProto('syntax = "proto3"; message A { int32 a = 1; int32 b = 1; }'), /used twice/);
  const s = parseProto('syntax = "proto3"; package p; import "google/protobuf/duration.proto"; message A { message B { int32 x = 1; } B b = 1; google.protobuf.Duration d = 2; } service S { rpc Go (A) returns (stream A.B); }');
  assert.equal(s.messages.get('p.A')!.fields[0]!.type, 'p.A.B');
  assert.equal(s.messages.get('p.A')!.fields[1]!.type, 'google.protobuf.Duration');
  assert.deepEqual(s.services.get('p.S')!.methods.get('Go'), { name: 'Go', path: '/p.S/Go', requestType: 'p.A', responseType: 'p.A.B', requestStream: false, responseStream: true });
});

test('64-bit integers as decimal strings keep all 64 bits both ways (an IPv6 address travels as two fixed64)', () => {
  const { schema } = load('tap.proto');
  const codec = new ProtoCodec(schema, { longs: 'string' });
  const ip = { first: '18446744073709551615', last: '9007199254740993' };
  assert.deepEqual(codec.decode('io.linkerd.proxy.tap.IPv6', codec.encode('io.linkerd.proxy.tap.IPv6', ip)), ip);
});
