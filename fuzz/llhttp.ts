/**
 * Node's own HTTP parser (llhttp, through `_http_common`'s HTTPParser binding) as a second
 * opinion: "what would an upstream built on Node see if it got these bytes?". Strict (no
 * leniency flags), as Node's http server runs by default.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser, methods } = require('_http_common') as { HTTPParser: any; methods: string[] }; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LlMessage {
  method: string;
  url: string;
  status: number;
  headers: string[];
  body: Buffer;
  upgrade: boolean;
  complete: boolean;
}

export interface LlResult {
  messages: LlMessage[];
  /** llhttp's error code (HPE_...) if it refused the bytes. */
  error?: string;
  /** Parsing stopped at an upgrade/CONNECT: the rest is tunnel data. */
  upgraded: boolean;
}

export function llhttpParse(bytes: Buffer, kind: 'request' | 'response'): LlResult {
  const parser = new HTTPParser();
  parser.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, 0, 0);
  const messages: LlMessage[] = [];
  let cur: LlMessage | undefined;
  let pendingHeaders: string[] = [];
  let pendingUrl = '';
  let upgraded = false;
  parser[HTTPParser.kOnMessageBegin] = () => {
    pendingHeaders = [];
    pendingUrl = '';
  };
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    pendingHeaders.push(...headers);
    pendingUrl += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _maj: number,
    _min: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    status: number,
    _msg: string,
    upgrade: boolean,
  ) => {
    cur = {
      method: methods[method] ?? '',
      url: pendingUrl + (url ?? ''),
      status,
      headers: [...pendingHeaders, ...(headers ?? [])],
      body: Buffer.alloc(0),
      upgrade,
      complete: false,
    };
    messages.push(cur);
    if (upgrade) upgraded = true;
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer, start?: number, len?: number) => {
    const chunk = start === undefined ? b : b.subarray(start, start + (len ?? 0));
    if (cur) cur.body = Buffer.concat([cur.body, chunk]);
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (cur) cur.complete = true;
  };
  parser[HTTPParser.kOnExecute] = () => {};
  let error: string | undefined;
  try {
    const r = parser.execute(bytes);
    if (r instanceof Error) error = (r as Error & { code?: string }).code ?? r.message;
    if (!error && !upgraded && kind === 'response') {
      const f = parser.finish();
      if (f instanceof Error) error = (f as Error & { code?: string }).code ?? f.message;
    }
  } finally {
    parser.free?.();
  }
  return { messages, error, upgraded };
}
