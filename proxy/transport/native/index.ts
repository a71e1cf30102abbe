/**
 * The proxy's window onto the few socket calls Node has no API for: the original destination of
 * an iptables-redirected connection, SO_REUSEPORT listeners so that several worker threads
 * accept on one port (the kernel balances new connections between them), and the kernel relay
 * for plain opaque TCP (splice-lane.ts).
 *
 * The addon is loaded lazily on first use; every failure is a typed LinnetError.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';
import { PlatformError } from '../../../core/errors';
import { binding } from './load';
import { errnoName, ListenError, NativeArgumentError, OriginalDstError, SocketFdError } from './errors';

export { OriginalDstError, ListenError, SocketFdError, NativeArgumentError } from './errors';

export interface OriginalDst {
  host: string;
  port: number;
  family: 4 | 6;
}

/** A system error thrown by the C code: `errno` is positive, `syscall` names the call. */
interface NativeSystemError extends Error {
  errno?: number;
  syscall?: string;
}

function isSystemError(err: unknown): err is NativeSystemError & { errno: number } {
  return err instanceof Error && typeof (err as NativeSystemError).errno === 'number';
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new NativeArgumentError(`fd must be a non-negative integer, got ${fd}`, 'pass socketFd(socket) of an accepted socket');
  }
}

function checkFamily(family: number): asserts family is 4 | 6 {
  if (family !== 4 && family !== 6) {
    throw new NativeArgumentError(`family must be 4 or 6, got ${family}`, 'use 4 for IPv4 listeners and 6 for IPv6 listeners');
  }
}

/**
 * getsockopt(SOL_IP, SO_ORIGINAL_DST) or (SOL_IPV6, IP6T_SO_ORIGINAL_DST) on an accepted socket's
 * fd. Note: in a namespace where conntrack is active (any nat rule exists) a connection that was
 * NOT redirected still succeeds and returns its own local address; ENOENT only means conntrack
 * never saw the connection.
 */
export function originalDst(fd: number, family: 4 | 6): OriginalDst {
  checkFd(fd);
  checkFamily(family);
  const native = binding();
  try {
    return native.originalDst(fd, family);
  } catch (err) {
    if (isSystemError(err)) throw new OriginalDstError(errnoName(err.errno), fd, family, err);
    throw err;
  }
}

/** The fd of a connected net.Socket (from its libuv handle); throws a typed error if none. */
export function socketFd(socket: Socket): number {
  // `_handle` is Node's TCPWrap; its `fd` getter is uv_fileno() (-1 on Windows or when closed).
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (handle === null || handle === undefined) {
    throw new SocketFdError(socket.destroyed ? 'the socket is destroyed' : 'the socket has no handle (not connected yet, or wrapped, e.g. a TLSSocket)');
  }
  const fd = handle.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new SocketFdError(`its handle reports fd ${String(fd)} (not a TCP socket, or already closed)`);
  }
  return fd;
}

/**
 * The original destination of an accepted socket, taking the family from the socket itself. A
 * v4 client on a dual-stack `::` listener arrives as `::ffff:a.b.c.d` on an AF_INET6 socket;
 * its conntrack entry is IPv4, so that case asks with family 4.
 */
export function socketOriginalDst(socket: Socket): OriginalDst {
  const fd = socketFd(socket);
  const local = socket.localAddress ?? '';
  if (isIPv4(local) || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(local)) return originalDst(fd, 4);
  if (isIPv6(local)) return originalDst(fd, 6);
  throw new SocketFdError(`its local address ${JSON.stringify(local)} is not an IP address (a Unix socket?)`);
}

/**
 * socket()+SO_REUSEADDR+SO_REUSEPORT(+IPV6_V6ONLY for family 6)+bind+listen, non-blocking,
 * close-on-exec; returns the fd, to be passed to net.Server#listen({ fd }). Each worker thread
 * calls it to get its own socket on the same port.
 *
 * Ownership: once handed to `server.listen({ fd })`, Node owns the fd and closing the server
 * closes it. If it never reaches a server, release it with closeFd(fd). Port 0 picks a free
 * port for this socket only; read it back with server.address() and pass it to the others.
 * Family 6 sockets are v6-only: open a family 4 listener too for dual stack. Node calls
 * listen(2) again on the fd with its own backlog (511 unless `server.listen({ fd }, backlog)`: a
 * `backlog` option is ignored with `fd`), which replaces the one given here, so pass the same
 * backlog to both.
 */
export function listenReusePort(host: string, port: number, family: 4 | 6, backlog = 511): number {
  checkFamily(family);
  if (typeof host !== 'string' || !(family === 4 ? isIPv4(host) : isIPv6(host))) {
    throw new NativeArgumentError(
      `listen host ${JSON.stringify(host)} is not a literal IPv${family} address`,
      family === 4 ? 'use an address like 0.0.0.0 or 127.0.0.1' : 'use an address like :: or ::1 (no brackets, no zone)',
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NativeArgumentError(`listen port must be an integer 0..65535, got ${port}`, 'fix the port in the listen address');
  }
  if (!Number.isInteger(backlog) || backlog < 1 || backlog > 0x7fffffff) {
    throw new NativeArgumentError(`backlog must be a positive integer, got ${backlog}`, 'omit it for the default 511');
  }
  const native = binding();
  try {
    return native.listenReusePort(host, port, family, backlog);
  } catch (err) {
    if (isSystemError(err)) throw new ListenError(errnoName(err.errno), err.syscall ?? 'listen', host, port, family, err);
    throw err;
  }
}

/** Closes a fd from listenReusePort that was never given to a net.Server. */
export function closeFd(fd: number): void {
  checkFd(fd);
  binding().closeFd(fd);
}

export interface NativeSupport {
  reusePort: boolean;
  originalDst4: boolean;
  originalDst6: boolean;
  /** splice(2) from a socket into a pipe: the kernel relay for plain opaque TCP (splice-lane.ts). */
  splice: boolean;
  /** errno names for what is missing, e.g. `{ originalDst6: 'EAFNOSUPPORT' }`. */
  problems: Record<string, string>;
}

/** What the running kernel supports. Throws PlatformError only when the addon itself is missing. */
export function nativeSupport(): NativeSupport {
  const p = binding().probe();
  const problems: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== 0) problems[k] = errnoName(v);
  return { reusePort: p.reusePort === 0, originalDst4: p.originalDst4 === 0, originalDst6: p.originalDst6 === 0, splice: p.splice === 0, problems };
}

/**
 * Load check for start-up: throws PlatformError with a clear hint when the addon is not built,
 * the platform is not Linux, or SO_REUSEPORT / SO_ORIGINAL_DST (IPv4) are missing. Pass
 * `{ originalDst: false }` for a proxy that runs without iptables redirection (then conntrack
 * may legitimately be absent), `{ ipv6: true }` to require IPv6 SO_ORIGINAL_DST as well.
 */
export function assertNativeSupport(opts: { originalDst?: boolean; ipv6?: boolean } = {}): void {
  const s = nativeSupport();
  if (!s.reusePort) {
    throw new PlatformError(
      `the kernel refuses SO_REUSEPORT (${s.problems.reusePort})`,
      'run on Linux >= 3.9, or set LINNET_PROXY_WORKERS=1',
    );
  }
  if (opts.originalDst !== false && !s.originalDst4) {
    throw new PlatformError(
      `the kernel does not answer SO_ORIGINAL_DST (${s.problems.originalDst4})`,
      'load nf_conntrack (modprobe nf_conntrack, or apply the iptables nat rules with linnet init first)',
    );
  }
  if (opts.ipv6 === true && !s.originalDst6) {
    throw new PlatformError(
      `the kernel does not answer IP6T_SO_ORIGINAL_DST (${s.problems.originalDst6})`,
      'enable IPv6 and load nf_conntrack with IPv6 support, or run IPv4 only',
    );
  }
}
