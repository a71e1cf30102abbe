/**
 * The one way the proxy opens a connection to where a connection or request goes: plain TCP, or
 * mTLS to a meshed peer (TLS 1.3, both sides verified; see tls/connect.ts). For a port the peer's
 * proxy treats as opaque, that is opaque transport: mTLS to the peer's inbound port, then a header
 * naming the real port (transport-header.ts), written before any client byte, and no ALPN, since
 * the bytes after the header are the app's. Rejects with ConnectError carrying the errno.
 */
import type { Socket } from 'node:net';
import { connectTarget } from './connect';
import { connectMeshed } from './tls/connect';
import type { TlsStore } from './tls/store';
import { encodeTransportHeader } from './transport-header';

export interface DialTarget {
  host: string;
  port: number;
  /** A meshed endpoint: the identity its certificate must prove (mTLS). Absent: plain TCP. */
  identity?: string;
  /** The peer proxy's inbound port, when that proxy treats `port` as opaque (opaque transport). */
  opaqueTransportPort?: number;
}

/**
 * `tls`: this proxy's certificate store; without it (no identity configured) every dial is plain.
 * A meshed dial before the first certificate waits for it, at most `timeoutMs`. `alpn`: what the
 * TLS offers (the HTTP/2 pool: `h2`). `directRead`: the pools' connections, whose owners take
 * their bytes directly (direct-read.ts); never an opaque-transport connection, which is relayed.
 */
export async function dial(t: DialTarget, timeoutMs: number, tls: TlsStore | undefined, alpn?: readonly string[], directRead = false): Promise<Socket> {
  if (t.identity === undefined || !tls) return connectTarget(t.host, t.port, timeoutMs, directRead);
  if (!tls.current()) await tls.ready(timeoutMs);
  const otp = t.opaqueTransportPort;
  const socket = await connectMeshed(t.host, otp ?? t.port, t.identity, tls, timeoutMs, otp === undefined ? alpn : undefined, otp === undefined && directRead);
  if (otp !== undefined) socket.write(encodeTransportHeader({ port: t.port }));
  return socket;
}
