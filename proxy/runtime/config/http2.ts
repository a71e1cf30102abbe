/**
 * HTTP/2 session settings from LINNET_PROXY_HTTP2_* (listed in PROXY_ENV through HTTP2_ENV).
 * Parsed with the shared parsers, so a bad value names its variable.
 */
import { ConfigError } from '../../../core/errors';
import { parseDuration, parsePositiveInt } from '../../../core/parse';
import type { H2Settings } from '../../protocol/h2/settings';

export const HTTP2_ENV = {
  LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS: {
    default: '1000',
    meaning:
      'HTTP/2: streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2 would allow 2^32-1). A peer proxy multiplexes all its streams to this pod onto one connection per worker, so keep it above the long-lived streams an app holds',
  },
  LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE: {
    default: '1048576',
    meaning: 'HTTP/2: per-stream receive window in bytes, towards clients and upstreams (SETTINGS_INITIAL_WINDOW_SIZE): what one stream may have in flight to the proxy',
  },
  LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE: {
    default: '16777216',
    meaning: 'HTTP/2: per-connection receive window in bytes (WINDOW_UPDATE on stream 0 after the handshake), shared by all streams of one connection',
  },
  LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB: {
    default: '64',
    meaning: 'HTTP/2: memory one session (client or upstream connection) may hold in nghttp2 buffers before new streams are refused (ENHANCE_YOUR_CALM)',
  },
  LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE: {
    default: '65535',
    meaning: 'HTTP/2: largest header list in bytes (names + values + 32 per field, uncompressed) accepted from clients and upstreams (SETTINGS_MAX_HEADER_LIST_SIZE)',
  },
  LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT: {
    default: '3s',
    meaning:
      'HTTP/2: a client session that has read nothing for a second is sent a PING; if it stays unanswered with still nothing read this long, the connection is closed (a dead peer, or a session nghttp2 ended after a protocol error such as a CONTINUATION flood or rapid reset; 0 disables)',
  },
} as const;

type Name = keyof typeof HTTP2_ENV;

/** RFC 9113 §6.5.2: a flow-control window is at most 2^31-1. */
const MAX_WINDOW = 2 ** 31 - 1;
/** The protocol's own initial window: a smaller one would only slow every stream down. */
const MIN_WINDOW = 65_535;

function parseWindow(name: Name, text: string): number {
  const t = text.trim();
  const form = `a whole number of bytes from ${MIN_WINDOW} to ${MAX_WINDOW}`;
  if (!/^\d+$/.test(t)) throw new ConfigError(name, text, form);
  const n = Number(t);
  if (n < MIN_WINDOW || n > MAX_WINDOW) throw new ConfigError(name, text, form);
  return n;
}

export function parseHttp2Env(env: NodeJS.ProcessEnv): H2Settings {
  const get = (name: Name): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? HTTP2_ENV[name].default : v;
  };
  return {
    maxConcurrentStreams: parsePositiveInt('LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS', get('LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS'), 2 ** 32 - 1),
    initialStreamWindowSize: parseWindow('LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE', get('LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE')),
    initialConnectionWindowSize: parseWindow('LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE', get('LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE')),
    maxSessionMemoryMb: parsePositiveInt('LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB', get('LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB'), 65_536),
    // Node's settings validator allows up to 2^32-1; 16 MiB of headers is already far past sane.
    maxHeaderListSize: parsePositiveInt('LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE', get('LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE'), 16 * 1024 * 1024),
    keepAliveTimeoutMs: parseDuration('LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT', get('LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT')),
  };
}
