/**
 * Request filters on an HTTP/1 request head as the proxy sends it upstream: header edits
 * (RequestHeaderModifier) and URLRewrite (hostname → Host, path → the request target). The head is
 * the proxy's own output (valid, CRLF-separated), so a line split is enough. Pure.
 */
import type { HeaderEdit } from '../../../core/route/model';
import type { RequestHead } from '../../protocol/h1/parse-head';
import { editHeaders } from './plan';
import { merged } from '../../../core/merged';

export function editH1Head(head: Buffer, edit: HeaderEdit | undefined, rewrite: { hostname?: string; path?: string } | undefined): Buffer {
  const text = head.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end).split('\r\n');
  let requestLine = lines[0]!;
  let pairs: [string, string][] = lines.slice(1).map((l) => {
    const c = l.indexOf(':');
    return [l.slice(0, c), l.slice(c + 1).trim()];
  });
  if (rewrite?.path !== undefined) {
    const [method, , version] = requestLine.split(' ');
    requestLine = `${method} ${rewrite.path} ${version}`;
  }
  if (rewrite?.hostname !== undefined) {
    const host = pairs.find(([n]) => n.toLowerCase() === 'host');
    const port = host && /:(\d+)$/.exec(host[1])?.[1];
    pairs = editHeaders(pairs, { set: [['host', port ? `${rewrite.hostname}:${port}` : rewrite.hostname]], add: [], remove: [] });
  }
  if (edit) pairs = editHeaders(pairs, edit);
  return Buffer.from(`${requestLine}\r\n${pairs.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1');
}

/**
 * The same filters on a parsed request head, for the requests that ride HTTP/2 to a meshed
 * endpoint (orig-proto builds its fields from the parsed head, not from the bytes).
 */
export function editRequestHead(head: RequestHead, edit: HeaderEdit | undefined, rewrite: { hostname?: string; path?: string } | undefined): RequestHead {
  let pairs: [string, string][] = head.names.map((n, i) => [n, head.values[i]!]);
  let host = head.host;
  if (rewrite?.hostname !== undefined) {
    const port = host && /:(\d+)$/.exec(host)?.[1];
    host = port ? `${rewrite.hostname}:${port}` : rewrite.hostname;
    pairs = editHeaders(pairs, { set: [['host', host]], add: [], remove: [] });
  }
  if (edit) pairs = editHeaders(pairs, edit);
  // A plain copy: the parsed head's lazily built lists (its getters) are given here, all three.
  const names = pairs.map(([n]) => n);
  return merged(head, { target: rewrite?.path ?? head.target, host, names, lowerNames: names.map((n) => n.toLowerCase()), values: pairs.map(([, v]) => v) });
}
