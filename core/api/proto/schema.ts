/**
 * The `.proto` files of our API contract read into a schema the codec (codec.ts) walks: a proto3
 * subset — packages, nested messages and enums, oneofs, maps, repeated fields, services, and the
 * well-known Timestamp, Duration and Empty by import. Pure. Written so that the proxy can speak
 * its few gRPC APIs without loading protobufjs and grpc-js (together some 17 MB of a sidecar).
 */

export type ScalarType =
  | 'double' | 'float' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'sint32' | 'sint64'
  | 'fixed32' | 'fixed64' | 'sfixed32' | 'sfixed64' | 'bool' | 'string' | 'bytes';

export const SCALARS: ReadonlySet<string> = new Set<ScalarType>([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
]);

export interface FieldDef {
  name: string;
  number: number;
  /** A scalar type, or the full name (no leading dot) of a message or enum once resolved. */
  type: string;
  kind: 'scalar' | 'message' | 'enum';
  repeated: boolean;
  /** map<K, V>: the key's scalar type; `type`/`kind` then describe the value. */
  mapKey?: ScalarType;
  oneof?: string;
}

export interface MessageDef {
  fullName: string;
  fields: FieldDef[];
  byNumber: Map<number, FieldDef>;
  oneofs: string[];
}

export interface EnumDef {
  fullName: string;
  byName: Map<string, number>;
  byNumber: Map<number, string>;
}

export interface MethodDef {
  name: string;
  /** The HTTP/2 :path, `/package.Service/Method`. */
  path: string;
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
}

export interface ServiceDef {
  fullName: string;
  methods: Map<string, MethodDef>;
}

export interface Schema {
  messages: Map<string, MessageDef>;
  enums: Map<string, EnumDef>;
  services: Map<string, ServiceDef>;
}

export class ProtoSyntaxError extends Error {}

const WELL_KNOWN: Record<string, string> = {
  'google/protobuf/timestamp.proto': 'syntax = "proto3"; package google.protobuf; message Timestamp { int64 seconds = 1; int32 nanos = 2; }',
  'google/protobuf/duration.proto': 'syntax = "proto3"; package google.protobuf; message Duration { int64 seconds = 1; int32 nanos = 2; }',
  'google/protobuf/empty.proto': 'syntax = "proto3"; package google.protobuf; message Empty {}',
};

function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][\w.]*|\.[A-Za-z_][\w.]*)|(-?\d+(?:\.\d+)?)|([{}()[\]<>=;,])|(.)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[5] !== undefined) throw new ProtoSyntaxError(`unexpected ${JSON.stringify(m[5])}`);
    const t = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (t !== undefined) out.push(t);
  }
  return out;
}

interface RawField { name: string; number: number; type: string; repeated: boolean; mapKey?: ScalarType; oneof?: string; scope: string }

/** Parses `.proto` texts (the first is the main file; `load` returns an imported file's text). */
export function parseProto(mainText: string, load: (path: string) => string = () => { throw new ProtoSyntaxError('imports are not available'); }): Schema {
  const rawMessages = new Map<string, { fields: RawField[]; oneofs: string[] }>();
  const enums = new Map<string, EnumDef>();
  const rawServices: { fullName: string; pkg: string; methods: { name: string; req: string; res: string; reqStream: boolean; resStream: boolean; scope: string }[] }[] = [];
  const seen = new Set<string>();

  const parseFile = (text: string): void => {
    const t = tokenize(text);
    let i = 0;
    let pkg = '';
    const peek = () => t[i];
    const next = (): string => {
      const v = t[i++];
      if (v === undefined) throw new ProtoSyntaxError('unexpected end of file');
      return v;
    };
    const expect = (v: string) => {
      const got = next();
      if (got !== v) throw new ProtoSyntaxError(`expected ${v}, got ${got}`);
    };
    const skipStatement = () => {
      let depth = 0;
      for (;;) {
        const v = next();
        if (v === '{' || v === '[' || v === '(') depth++;
        else if (v === '}' || v === ']' || v === ')') depth--;
        else if (v === ';' && depth === 0) return;
        if (v === '}' && depth === 0 && t[i] !== ';') return;
      }
    };
    const full = (scope: string, name: string) => (scope ? `${scope}.${name}` : name);
    const fieldTail = (): number => {
      expect('=');
      const n = Number(next());
      if (!Number.isInteger(n) || n < 1 || n > 536_870_911) throw new ProtoSyntaxError(`field number ${n}`);
      if (peek() === '[') skipStatement();
      else expect(';');
      return n;
    };
    const parseEnum = (scope: string) => {
      const name = full(scope, next());
      expect('{');
      const e: EnumDef = { fullName: name, byName: new Map(), byNumber: new Map() };
      while (peek() !== '}') {
        const v = next();
        if (v === 'option' || v === 'reserved') { skipStatement(); continue; }
        expect('=');
        const n = Number(next());
        if (peek() === '[') skipStatement();
        else expect(';');
        e.byName.set(v, n);
        if (!e.byNumber.has(n)) e.byNumber.set(n, v);
      }
      expect('}');
      enums.set(name, e);
    };
    const parseMessage = (scope: string) => {
      const name = full(scope, next());
      expect('{');
      const m = { fields: [] as RawField[], oneofs: [] as string[] };
      rawMessages.set(name, m);
      const field = (oneof?: string) => {
        let v = next();
        let repeated = false;
        if (v === 'repeated') { repeated = true; v = next(); }
        else if (v === 'optional') v = next();
        if (v === 'map') {
          expect('<');
          const k = next();
          expect(',');
          const val = next();
          expect('>');
          const fname = next();
          if (!SCALARS.has(k) || k === 'bytes' || k === 'double' || k === 'float') throw new ProtoSyntaxError(`map key type ${k}`);
          m.fields.push({ name: fname, number: fieldTail(), type: val, repeated: false, mapKey: k as ScalarType, scope: name });
          return;
        }
        const fname = next();
        m.fields.push({ name: fname, number: fieldTail(), type: v, repeated, ...(oneof ? { oneof } : {}), scope: name });
      };
      while (peek() !== '}') {
        const v = peek();
        if (v === 'message') { next(); parseMessage(name); continue; }
        if (v === 'enum') { next(); parseEnum(name); continue; }
        if (v === 'option' || v === 'reserved' || v === 'extensions') { skipStatement(); continue; }
        if (v === ';') { next(); continue; }
        if (v === 'oneof') {
          next();
          const o = next();
          m.oneofs.push(o);
          expect('{');
          while (peek() !== '}') {
            if (peek() === 'option') { skipStatement(); continue; }
            field(o);
          }
          expect('}');
          continue;
        }
        field();
      }
      expect('}');
    };
    while (i < t.length) {
      const v = next();
      if (v === 'syntax') { expect('='); const s = next(); if (s !== '"proto3"') throw new ProtoSyntaxError(`syntax ${s}: proto3 only`); expect(';'); }
      else if (v === 'package') { pkg = next(); expect(';'); }
      else if (v === 'import') {
        let p = next();
        if (p === 'public' || p === 'weak') p = next();
        expect(';');
        const path = p.slice(1, -1);
        if (!seen.has(path)) {
          seen.add(path);
          parseFile(WELL_KNOWN[path] ?? load(path));
        }
      } else if (v === 'option') skipStatement();
      else if (v === 'message') parseMessage(pkg);
      else if (v === 'enum') parseEnum(pkg);
      else if (v === 'service') {
        const s = { fullName: full(pkg, next()), pkg, methods: [] as (typeof rawServices)[number]['methods'] };
        expect('{');
        while (peek() !== '}') {
          const w = next();
          if (w === 'option') { skipStatement(); continue; }
          if (w !== 'rpc') throw new ProtoSyntaxError(`expected rpc, got ${w}`);
          const mname = next();
          expect('(');
          let reqStream = false;
          let req = next();
          if (req === 'stream') { reqStream = true; req = next(); }
          expect(')');
          expect('returns');
          expect('(');
          let resStream = false;
          let res = next();
          if (res === 'stream') { resStream = true; res = next(); }
          expect(')');
          if (peek() === '{') { next(); while (peek() !== '}') skipStatement(); expect('}'); if (peek() === ';') next(); }
          else expect(';');
          s.methods.push({ name: mname, req, res, reqStream, resStream, scope: pkg });
        }
        expect('}');
        rawServices.push(s);
      } else if (v === ';') continue;
      else throw new ProtoSyntaxError(`unexpected ${v}`);
    }
  };
  parseFile(mainText);

  // Names resolve from the innermost scope outwards, as protoc does.
  const resolve = (type: string, scope: string): { name: string; kind: 'message' | 'enum' } => {
    if (type.startsWith('.')) {
      const n = type.slice(1);
      if (rawMessages.has(n)) return { name: n, kind: 'message' };
      if (enums.has(n)) return { name: n, kind: 'enum' };
    } else {
      for (let s = scope; ; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
        const n = s ? `${s}.${type}` : type;
        if (rawMessages.has(n)) return { name: n, kind: 'message' };
        if (enums.has(n)) return { name: n, kind: 'enum' };
        if (s === '') break;
      }
    }
    throw new ProtoSyntaxError(`unknown type ${type} in ${scope}`);
  };
  const messages = new Map<string, MessageDef>();
  for (const [name, raw] of rawMessages) {
    const fields = raw.fields.map((f): FieldDef => {
      const base = { name: f.name, number: f.number, repeated: f.repeated, ...(f.mapKey ? { mapKey: f.mapKey } : {}), ...(f.oneof ? { oneof: f.oneof } : {}) };
      if (SCALARS.has(f.type)) return { ...base, type: f.type, kind: 'scalar' };
      const r = resolve(f.type, f.scope);
      return { ...base, type: r.name, kind: r.kind };
    });
    const byNumber = new Map<number, FieldDef>();
    for (const f of fields) {
      if (byNumber.has(f.number)) throw new ProtoSyntaxError(`${name}: field number ${f.number} used twice`);
      byNumber.set(f.number, f);
    }
    messages.set(name, { fullName: name, fields, byNumber, oneofs: raw.oneofs });
  }
  const services = new Map<string, ServiceDef>();
  for (const s of rawServices) {
    const methods = new Map<string, MethodDef>();
    for (const m of s.methods) {
      const req = resolve(m.req, m.scope);
      const res = resolve(m.res, m.scope);
      if (req.kind !== 'message' || res.kind !== 'message') throw new ProtoSyntaxError(`${s.fullName}.${m.name}: request and response must be messages`);
      methods.set(m.name, { name: m.name, path: `/${s.fullName}/${m.name}`, requestType: req.name, responseType: res.name, requestStream: m.reqStream, responseStream: m.resStream });
    }
    services.set(s.fullName, { fullName: s.fullName, methods });
  }
  return { messages, enums, services };
}
