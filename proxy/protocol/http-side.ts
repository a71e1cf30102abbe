/**
 * One side's HTTP machinery: the HTTP/1 and HTTP/2 servers its clients talk to, and the HTTP/1
 * and HTTP/2 pools it reaches upstreams with (endpoints for the outbound side, the app for the
 * inbound side), made from the settings and drained together.
 */
import type { Logger } from '../../core/log';
import { UpstreamPool } from './h1/client-pool';
import { Http1Server, type H1Settings } from './h1/server';
import { H2ClientPool } from './h2/client-pool';
import { H2Server } from './h2/server';
import type { H2Settings } from './h2/settings';

export class HttpSide {
  readonly h1: Http1Server;
  readonly h2: H2Server;
  /** Keep-alive HTTP/1 connections to upstreams. */
  readonly h1Pool: UpstreamPool;
  /** HTTP/2 sessions to upstreams. */
  readonly h2Pool: H2ClientPool;

  constructor(http1: H1Settings, http2: H2Settings, log: Logger) {
    this.h1 = new Http1Server(http1);
    this.h2 = new H2Server(http2);
    this.h1Pool = new UpstreamPool(http1.pool);
    this.h2Pool = new H2ClientPool(http2, log.child('h2-upstream'));
  }

  /** Closes the idle keep-alive connections of the HTTP/1 pool (in-flight exchanges keep theirs). */
  closeIdleConnections(): void {
    this.h1Pool.close();
  }

  /** Shutdown: no new requests on kept-alive connections, GOAWAY to HTTP/2 clients, idle upstreams closed. */
  drain(): void {
    this.h1.drain();
    this.h2.drain();
    this.h1Pool.close();
    this.h2Pool.closeAll();
  }
}
