/**
 * Typed errors of the native addon, and the pure mapping from a syscall's errno to one of them
 * with a hint that says what to do. Kept apart from the loader so it is unit-tested directly.
 */
import { getSystemErrorName } from 'node:util';
import { LinnetError } from '../../../core/errors';

/** errno (positive, as the addon reports it) → its name (`ENOENT`); `E<n>` when unknown. */
export function errnoName(errno: number): string {
  if (!Number.isInteger(errno) || errno <= 0) return `E${errno}`;
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

/** `getsockopt(SO_ORIGINAL_DST)` failed: the proxy cannot know where the client was going. */
export class OriginalDstError extends LinnetError {
  readonly errno: string;
  readonly fd: number;
  readonly family: 4 | 6;
  constructor(errno: string, fd: number, family: 4 | 6, cause?: unknown) {
    super(
      'LINNET_ORIGINAL_DST_UNAVAILABLE',
      `no original destination for fd ${fd} (IPv${family}): ${errno}`,
      { hint: originalDstHint(errno, family), cause },
    );
    this.name = 'OriginalDstError';
    this.errno = errno;
    this.fd = fd;
    this.family = family;
  }
}

export function originalDstHint(errno: string, family: 4 | 6): string {
  const tables = family === 4 ? 'iptables' : 'ip6tables';
  switch (errno) {
    case 'ENOENT':
      return `the connection was not redirected (no conntrack entry): apply the ${tables} nat rules (linnet init) in this network namespace, or connect through them instead of to the proxy port directly`;
    case 'ENOPROTOOPT':
      return `the kernel has no conntrack SO_ORIGINAL_DST support here (nf_conntrack not loaded${family === 6 ? ', or IPv6 conntrack missing' : ''}); load nf_conntrack or run linnet init before the proxy`;
    case 'EBADF':
    case 'ENOTSOCK':
      return 'pass the fd of an accepted, still open TCP socket (use socketFd(socket) before the socket is closed)';
    case 'EAFNOSUPPORT':
    case 'EOPNOTSUPP':
      return `the socket is not an IPv${family} TCP socket; pass the family of the accepting listener`;
    case 'EINVAL':
      return `the socket's address family does not match IPv${family}; pass the family of the accepting listener`;
    default:
      return 'check that the socket is an accepted TCP connection that came through the iptables REDIRECT rules';
  }
}

/** Opening a SO_REUSEPORT listener failed at one of socket/setsockopt/bind/listen. */
export class ListenError extends LinnetError {
  readonly errno: string;
  readonly syscall: string;
  readonly host: string;
  readonly port: number;
  constructor(errno: string, syscall: string, host: string, port: number, family: 4 | 6, cause?: unknown) {
    const where = family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    super('LINNET_LISTEN_FAILED', `cannot listen on ${where}: ${syscall} failed with ${errno}`, {
      hint: listenHint(errno, where, family),
      cause,
    });
    this.name = 'ListenError';
    this.errno = errno;
    this.syscall = syscall;
    this.host = host;
    this.port = port;
  }
}

export function listenHint(errno: string, where: string, family: 4 | 6): string {
  switch (errno) {
    case 'EADDRINUSE':
      return `another socket already holds ${where} without SO_REUSEPORT (or belongs to another user); stop it or choose another port`;
    case 'EACCES':
      return 'ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port >= 1024 or grant the capability';
    case 'EADDRNOTAVAIL':
      return `${where} is not an address of this network namespace; use 0.0.0.0/:: or an address that is configured on an interface`;
    case 'EAFNOSUPPORT':
      return family === 6 ? 'IPv6 is disabled in this kernel or namespace; listen on an IPv4 address' : 'IPv4 sockets are not available here';
    case 'ENOPROTOOPT':
      return 'the kernel lacks SO_REUSEPORT (Linux >= 3.9 needed); run with one worker';
    case 'EMFILE':
    case 'ENFILE':
      return 'the process is out of file descriptors; raise the limit (ulimit -n)';
    case 'EINVAL':
      return `check the listen address: it must be a literal IPv${family} address`;
    default:
      return 'check the listen address and port';
  }
}

/** A socket that has no file descriptor (closed, not connected yet, or not a TCP socket). */
export class SocketFdError extends LinnetError {
  constructor(reason: string) {
    super('LINNET_SOCKET_FD_UNAVAILABLE', `socket has no file descriptor: ${reason}`, {
      hint: 'ask for the fd of a connected TCP net.Socket before it is closed or wrapped (e.g. before TLS)',
    });
    this.name = 'SocketFdError';
  }
}

/** A caller passed something the addon cannot use (not a literal IP, a bad family or port). */
export class NativeArgumentError extends LinnetError {
  constructor(message: string, hint: string) {
    super('LINNET_NATIVE_INVALID_ARGUMENT', message, { hint });
    this.name = 'NativeArgumentError';
  }
}

/**
 * The kernel relay could not take a connection (no descriptor left to dup, the relay thread could
 * not start). The caller relays the connection in JavaScript instead; nothing is lost.
 */
export class SpliceError extends LinnetError {
  readonly errno: string;
  constructor(errno: string, syscall: string, cause?: unknown) {
    super('LINNET_SPLICE_FAILED', `the kernel relay cannot take the connection: ${syscall} failed with ${errno}`, {
      hint: spliceHint(errno),
      cause,
    });
    this.name = 'SpliceError';
    this.errno = errno;
  }
}

export function spliceHint(errno: string): string {
  switch (errno) {
    case 'EMFILE':
    case 'ENFILE':
      return 'the process is out of file descriptors (each spliced connection holds two more, and a pipe while bytes move); raise the limit (ulimit -n)';
    case 'ENOMEM':
    case 'EAGAIN':
      return 'the system is short of memory or threads; the connection is relayed in JavaScript instead';
    default:
      return 'the connection is relayed in JavaScript instead; report this if it persists';
  }
}
