/**
 * The HTTP/1 handler for the dispatch table: one per worker thread (each worker is its own
 * isolate, so one upstream pool per worker), configured from the worker's environment on first use.
 */
import type { ProtocolHandler } from '../../stack/dispatch';
import { createHttp1Handler, type Http1Handler } from './handler';
import { parseHttp1Env } from './settings';

let handler: Http1Handler | undefined;

export const proxyHttp1: ProtocolHandler = (client, prefix, detected, ctx) => {
  handler ??= createHttp1Handler(parseHttp1Env(process.env, ctx.side.connectTimeoutMs));
  return handler(client, prefix, detected, ctx);
};

/** The worker drains (SIGTERM): idle keep-alive connections close, busy ones after their response. */
export function drainHttp1(): void {
  handler?.drain();
}

export { createHttp1Handler, type H1Settings, type Http1Handler } from './handler';
export { HTTP1_ENV, parseHttp1Env } from './settings';
