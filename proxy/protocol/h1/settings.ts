/** The HTTP/1 server's settings (parsed once from LINNET_PROXY_HTTP_*, proxy/runtime/config/http1.ts). */
import type { PoolOptions } from './client-pool';
import type { HeadLimits } from './parse-head';

export interface H1Settings {
  limits: HeadLimits;
  /** From the request's last byte sent to the response head; 0 disables. */
  responseTimeoutMs: number;
  /**
   * From the start of the wait for a request head (hand-over from detection, or the end of the
   * previous response) until the head is complete; 0 or absent disables. Bounds slowloris.
   */
  headerReadTimeoutMs?: number;
  pool: PoolOptions;
}
