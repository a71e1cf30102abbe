/**
 * The HTTP/2 session settings the proxy uses towards clients (its SETTINGS frame) and on its
 * upstream sessions. Parsed from LINNET_PROXY_HTTP2_* once, at start-up (runtime/config/http2.ts).
 */
export interface H2Settings {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
  readonly maxSessionMemoryMb: number;
  readonly maxHeaderListSize: number;
  /** 0: no keep-alive PING / stall watch. */
  readonly keepAliveTimeoutMs: number;
}

/** The settings object for node:http2 (server or client session). */
export function nodeSessionOptions(s: H2Settings, side: 'server' | 'client'): { settings: import('node:http2').Settings; maxSessionMemory: number } {
  return {
    settings: {
      initialWindowSize: s.initialStreamWindowSize,
      maxHeaderListSize: s.maxHeaderListSize,
      enablePush: false,
      // What the proxy accepts from clients; an upstream never opens streams towards the proxy.
      ...(side === 'server' ? { maxConcurrentStreams: s.maxConcurrentStreams } : {}),
    },
    maxSessionMemory: s.maxSessionMemoryMb,
  };
}
