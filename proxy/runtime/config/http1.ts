/**
 * The HTTP/1 server's and pools' settings from LINNET_PROXY_HTTP_* (listed in PROXY_ENV through
 * HTTP1_ENV). Parsed with the shared parsers, so a bad value names its variable.
 */
import { parseDuration, parsePositiveInt } from '../../../core/parse';
import type { H1Settings } from '../../protocol/h1/server';

export const HTTP1_ENV = {
  LINNET_PROXY_HTTP_RESPONSE_TIMEOUT: {
    default: '30s',
    meaning: 'HTTP: how long after a request is sent the response head may take before the proxy answers 504 (0 disables)',
  },
  LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT: {
    default: '10s',
    meaning: 'HTTP/1: how long a request head may take to arrive in full before the proxy answers 408 and closes (an idle keep-alive connection is closed; 0 disables)',
  },
  LINNET_PROXY_HTTP_MAX_HEADER_BYTES: { default: '16384', meaning: 'HTTP/1: largest request or response head in bytes; larger requests get 431' },
  LINNET_PROXY_HTTP_MAX_HEADERS: { default: '100', meaning: "HTTP/1: most header fields in a request or response head; more get 431 (also bounds the app's response heads on the inbound meshed path)" },
  LINNET_PROXY_HTTP_POOL_MAX_IDLE: { default: '64', meaning: 'HTTP/1: idle keep-alive connections kept per upstream target and worker' },
  LINNET_PROXY_HTTP_POOL_IDLE_TIMEOUT: { default: '10s', meaning: 'HTTP/1: an idle upstream connection is closed after this long' },
} as const;

type Name = keyof typeof HTTP1_ENV;

export function parseHttp1Env(env: NodeJS.ProcessEnv): H1Settings {
  const get = (name: Name): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? HTTP1_ENV[name].default : v;
  };
  const timeout = get('LINNET_PROXY_HTTP_RESPONSE_TIMEOUT').trim();
  const headTimeout = get('LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT').trim();
  return {
    limits: {
      maxHeaderBytes: parsePositiveInt('LINNET_PROXY_HTTP_MAX_HEADER_BYTES', get('LINNET_PROXY_HTTP_MAX_HEADER_BYTES'), 1 << 20),
      maxHeaders: parsePositiveInt('LINNET_PROXY_HTTP_MAX_HEADERS', get('LINNET_PROXY_HTTP_MAX_HEADERS'), 10_000),
    },
    responseTimeoutMs: timeout === '0' ? 0 : parseDuration('LINNET_PROXY_HTTP_RESPONSE_TIMEOUT', timeout),
    headerReadTimeoutMs: headTimeout === '0' ? 0 : parseDuration('LINNET_PROXY_HTTP_HEADER_READ_TIMEOUT', headTimeout),
    pool: {
      maxIdlePerTarget: parsePositiveInt('LINNET_PROXY_HTTP_POOL_MAX_IDLE', get('LINNET_PROXY_HTTP_POOL_MAX_IDLE'), 100_000),
      idleTimeoutMs: parseDuration('LINNET_PROXY_HTTP_POOL_IDLE_TIMEOUT', get('LINNET_PROXY_HTTP_POOL_IDLE_TIMEOUT')),
    },
  };
}
