/**
 * Reads llhttp's markdown test fixtures (fixtures/llhttp, MIT, from nodejs/llhttp test/request)
 * into cases: the raw input bytes and what llhttp in strict mode made of them (messages with
 * method, url, fields and body, and the error it stopped with, if any).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LlhttpMessage {
  method: string;
  url: string;
  fields: [string, string][];
  body: string;
  complete: boolean;
}

export interface LlhttpCase {
  file: string;
  title: string;
  type: string;
  /** The fixture runs llhttp with the body skipped (a HEAD-response setting): not a request-stream case. */
  skipBody: boolean;
  input: Buffer;
  messages: LlhttpMessage[];
  /** llhttp's error code and reason; codes 22/23 are pauses for CONNECT/Upgrade/PRI, not errors. */
  error?: { code: number; reason: string };
}

export const FIXTURE_DIR = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'llhttp');

function unescapeInput(v: string): string {
  // As llhttp's md-test: literal newlines are CRLF, then the escapes give bare bytes.
  return v
    .replace(/\n/g, '\r\n')
    .replace(/\\r/g, '\r')
    .replace(/\\n/g, '\n')
    .replace(/\\t/g, '\t')
    .replace(/\\f/g, '\f')
    .replace(/\\0/g, '\0')
    .replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function unescapeSpan(v: string): string {
  return v.replace(/\\(r|n|t|f|0|\\|x[0-9a-fA-F]{2})/g, (_m, e: string) => {
    switch (e[0]) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      case '0':
        return '\0';
      case 'x':
        return String.fromCharCode(parseInt(e.slice(1), 16));
      default:
        return '\\';
    }
  });
}

function parseLog(log: string): { messages: LlhttpMessage[]; error?: { code: number; reason: string } } {
  const messages: LlhttpMessage[] = [];
  let cur: LlhttpMessage | undefined;
  let field = '';
  let value = '';
  let error: { code: number; reason: string } | undefined;
  for (const line of log.split('\n')) {
    if (/ message begin$/.test(line)) {
      cur = { method: '', url: '', fields: [], body: '', complete: false };
      messages.push(cur);
      continue;
    }
    const span = /span\[(\w+)\]="(.*)"$/.exec(line);
    if (span && cur) {
      const text = unescapeSpan(span[2]!);
      switch (span[1]) {
        case 'method':
          cur.method += text;
          break;
        case 'url':
          cur.url += text;
          break;
        case 'header_field':
          field += text;
          break;
        case 'header_value':
          value += text;
          break;
        case 'body':
          cur.body += text;
          break;
      }
      continue;
    }
    if (/ header_value complete$/.test(line) && cur) {
      cur.fields.push([field, value.replace(/^[ \t]+|[ \t]+$/g, '')]);
      field = value = '';
      continue;
    }
    if (/ message complete$/.test(line) && cur) cur.complete = true;
    const err = /error code=(\d+) reason="(.*)"$/.exec(line);
    if (err) error = { code: Number(err[1]), reason: err[2]! };
  }
  return { messages, error };
}

export function loadLlhttpCases(dir = FIXTURE_DIR): LlhttpCase[] {
  const cases: LlhttpCase[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    const re = /(?:^#+ (.*)\n(?:(?!<!--)[\s\S])*?)?<!-- meta=(\{.*\}) -->\s*\n```http\n([\s\S]*?)\n```[^\n]*\n(?:(?!```http)[\s\S])*?```log\n([\s\S]*?)\n```/gm;
    let title = '';
    let m: RegExpExecArray | null;
    let n = 0;
    while ((m = re.exec(text))) {
      if (m[1]) title = m[1];
      const meta = JSON.parse(m[2]!) as { type: string; skipBody?: boolean };
      const parsed = parseLog(m[4]!);
      cases.push({
        file,
        title: `${title || file} #${++n}`,
        type: meta.type,
        skipBody: meta.skipBody === true,
        input: Buffer.from(unescapeInput(m[3]!), 'latin1'),
        ...parsed,
      });
    }
  }
  return cases;
}
