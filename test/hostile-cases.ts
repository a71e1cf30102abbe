/**
 * The request-smuggling cases the hostile tests send through the proxies, pure. Each case is one
 * client connection's bytes: a POST /c<i> whose body, read the other way, would hide a second
 * request GET /smuggled-c<i>. Generated: every byte 0x00-0xFF before, inside and after the name
 * and the value of a Transfer-Encoding line (with a Content-Length beside it) and of a
 * Content-Length line (with Transfer-Encoding: chunked beside it); named: case, tabs, spaces,
 * duplicates, obs-fold, chunk sizes and extensions, bare CR and LF, target forms.
 */
export interface SmuggleCase {
  i: number;
  name: string;
  bytes: Buffer;
}

const POSITIONS = ['before-name', 'inside-name', 'after-name', 'before-value', 'inside-value', 'after-value'] as const;

function mutate(name: string, value: string, pos: (typeof POSITIONS)[number], b: string): string {
  const mid = (s: string) => Math.floor(s.length / 2);
  switch (pos) {
    case 'before-name':
      return `${b}${name}: ${value}`;
    case 'inside-name':
      return `${name.slice(0, mid(name))}${b}${name.slice(mid(name))}: ${value}`;
    case 'after-name':
      return `${name}${b}: ${value}`;
    case 'before-value':
      return `${name}:${b}${value}`;
    case 'inside-value':
      return `${name}: ${value.slice(0, mid(value))}${b}${value.slice(mid(value))}`;
    case 'after-value':
      return `${name}: ${value}${b}`;
  }
}

export function smuggleCases(host: string, opts: { bytes?: number[] } = {}): SmuggleCase[] {
  const out: SmuggleCase[] = [];
  const add = (name: string, make: (i: number) => string) => {
    const i = out.length;
    out.push({ i, name, bytes: Buffer.from(make(i), 'latin1') });
  };
  const hidden = (i: number) => `GET /smuggled-c${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  /** CL.TE: Content-Length covers everything; chunked ends at 0\r\n\r\n before the hidden request. */
  const clte = (i: number, fields: string[]) => {
    const body = `0\r\n\r\n${hidden(i)}`;
    return `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\n${fields.map((f) => f.replace('{CL}', String(body.length))).join('\r\n')}\r\n\r\n${body}`;
  };
  /** TE.CL: chunked covers the hidden request; Content-Length 4 would end the body before it. */
  const tecl = (i: number, fields: string[]) => {
    const h = hidden(i);
    const body = `${h.length.toString(16)}\r\n${h}\r\n0\r\n\r\n`;
    return `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\n${fields.join('\r\n')}\r\n\r\n${body}`;
  };
  const bytes = opts.bytes ?? Array.from({ length: 256 }, (_, b) => b);
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    for (const pos of POSITIONS) {
      add(`TE ${pos} 0x${b.toString(16).padStart(2, '0')}`, (i) => clte(i, ['Content-Length: {CL}', mutate('Transfer-Encoding', 'chunked', pos, ch)]));
      add(`CL ${pos} 0x${b.toString(16).padStart(2, '0')}`, (i) => tecl(i, ['Transfer-Encoding: chunked', mutate('Content-Length', '4', pos, ch)]));
    }
  }
  const named: [string, (i: number) => string][] = [
    ['CL.TE plain', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: chunked'])],
    ['TE.CL plain', (i) => tecl(i, ['Transfer-Encoding: chunked', 'Content-Length: 4'])],
    ['TE upper case', (i) => clte(i, ['Content-Length: {CL}', 'TRANSFER-ENCODING: CHUNKED'])],
    ['TE value mixed case', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: ChUnKeD'])],
    ['TE tab before value', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding:\tchunked'])],
    ['TE space before colon', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding : chunked'])],
    ['TE duplicate', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'])],
    ['TE identity then chunked headers', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: identity', 'Transfer-Encoding: chunked'])],
    ['TE chunked, identity', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: chunked, identity'])],
    ['TE x-chunked', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: xchunked'])],
    ['TE obs-fold', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding:', ' chunked'])],
    ['TE obs-fold tab', (i) => clte(i, ['Content-Length: {CL}', 'X: y', '\tTransfer-Encoding: chunked'])],
    ['TE only, HTTP/1.0', (i) => clte(i, ['Transfer-Encoding: chunked']).replace(' HTTP/1.1\r\nHost', ' HTTP/1.0\r\nHost')],
    ['TE empty value', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: '])],
    ['TE comma only', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: ,'])],
    ['TE gzip only', (i) => clte(i, ['Transfer-Encoding: gzip'])],
    ['CL duplicate different', (i) => tecl(i, ['Content-Length: 4', 'Content-Length: 99'])],
    ['CL duplicate same', (i) => clte(i, ['Content-Length: {CL}', 'Content-Length: {CL}'])],
    ['CL comma list', (i) => clte(i, ['Content-Length: {CL}, {CL}'])],
    ['CL plus sign', (i) => clte(i, ['Content-Length: +{CL}'])],
    ['CL leading zeros', (i) => clte(i, ['Content-Length: 000{CL}'])],
    ['CL negative', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -1\r\n\r\n${hidden(i)}`],
    ['CL hex', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0x10\r\n\r\n${hidden(i)}`],
    ['CL huge', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 99999999999999999999\r\n\r\n${hidden(i)}`],
    ['CL zero then pipelined (legitimate second request)', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n${hidden(i)}`],
    ['chunk size leading zeros', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000003\r\nabc\r\n0\r\n\r\n`],
    ['chunk size overflow', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000004\r\nabcd\r\n0\r\n\r\n${hidden(i)}`],
    ['chunk size 0x prefix', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n`],
    ['chunk size with space', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n`],
    ['chunk size negative', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`],
    ['chunk ext plain', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0;c="d"\r\n\r\n`],
    ['chunk ext quoted CRLF', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3;a="x\r\n0\r\n\r\n${hidden(i)}"\r\nabc\r\n0\r\n\r\n`],
    ['chunk ext bare LF', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nabc\r\n0\r\n\r\n${hidden(i)}`],
    ['chunk data short (size says 5)', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc\r\n0\r\n\r\n${hidden(i)}`],
    ['chunk bare LF after data', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n${hidden(i)}`],
    ['trailer with CL', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 50\r\n\r\n${hidden(i)}`],
    ['bare LF line ends', (i) => clte(i, ['Content-Length: {CL}', 'Transfer-Encoding: chunked']).replace(/\r\n/g, '\n')],
    ['bare CR in field', (i) => clte(i, ['Content-Length: {CL}', 'X: a\rTransfer-Encoding: chunked'])],
    ['bare LF in field', (i) => clte(i, ['Content-Length: {CL}', 'X: a\nTransfer-Encoding: chunked'])],
    ['NUL in value', (i) => clte(i, ['Content-Length: {CL}', 'X: a\x00Transfer-Encoding: chunked'])],
    ['absolute-form target', (i) => `GET http://${host}/c${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['absolute-form other host', (i) => `GET http://evil.example/c${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['authority-form on GET', (i) => `GET ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /c${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['asterisk-form on GET', (i) => `GET * HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /c${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['two Host fields', (i) => `GET /c${i} HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\n\r\n`],
    ['Connection names Content-Length', (i) => clte(i, ['Content-Length: {CL}', 'Connection: content-length'])],
    ['Connection names Transfer-Encoding', (i) => tecl(i, ['Transfer-Encoding: chunked', 'Connection: transfer-encoding'])],
    ['request line bare LF', (i) => `POST /c${i} HTTP/1.1\nHost: ${host}\r\nContent-Length: 0\r\n\r\n`],
    ['space before request line', (i) => ` POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n`],
    ['HTTP/1.0 no keep-alive, then more bytes', (i) => `POST /c${i} HTTP/1.0\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n${hidden(i)}`],
    ['HTTP/1.1 Connection: close, then more bytes', (i) => `POST /c${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n${hidden(i)}`],
    ['HTTP/1.2', (i) => `GET /c${i} HTTP/1.2\r\nHost: ${host}\r\n\r\n`],
  ];
  for (const [n, make] of named) add(n, make);
  return out;
}
