import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { LinnetError } from '../../../core/errors';
import { errnoName, ListenError, listenHint, OriginalDstError, originalDstHint, SocketFdError, SpliceError, spliceHint } from './errors';

test('errnoName maps positive errno numbers to their names', () => {
  assert.equal(errnoName(constants.errno.ENOENT), 'ENOENT');
  assert.equal(errnoName(constants.errno.EADDRINUSE), 'EADDRINUSE');
  assert.equal(errnoName(constants.errno.ENOPROTOOPT), 'ENOPROTOOPT');
  assert.equal(errnoName(0), 'E0');
  assert.equal(errnoName(-3), 'E-3');
  assert.match(errnoName(99999), /^(E99999|Unknown system error.*)$/);
});

test('OriginalDstError carries the stable code, errno and a family-specific hint', () => {
  const e = new OriginalDstError('ENOENT', 17, 6);
  assert.ok(e instanceof LinnetError);
  assert.equal(e.code, 'LINNET_ORIGINAL_DST_UNAVAILABLE');
  assert.equal(e.errno, 'ENOENT');
  assert.equal(e.fd, 17);
  assert.equal(e.family, 6);
  assert.match(e.message, /fd 17 \(IPv6\): ENOENT/);
  assert.match(e.hint ?? '', /ip6tables/);
  assert.match(originalDstHint('ENOENT', 4), /iptables nat rules/);
  assert.match(originalDstHint('ENOPROTOOPT', 4), /nf_conntrack/);
  assert.match(originalDstHint('EBADF', 4), /socketFd/);
});

test('ListenError names the address, the failing syscall and what to do', () => {
  const e = new ListenError('EADDRINUSE', 'bind', '::1', 4143, 6);
  assert.equal(e.code, 'LINNET_LISTEN_FAILED');
  assert.equal(e.errno, 'EADDRINUSE');
  assert.equal(e.syscall, 'bind');
  assert.match(e.message, /\[::1\]:4143: bind failed with EADDRINUSE/);
  assert.match(e.describe(), /^LINNET_LISTEN_FAILED: .*SO_REUSEPORT/);
  assert.match(listenHint('EACCES', '0.0.0.0:80', 4), /CAP_NET_BIND_SERVICE/);
  assert.match(listenHint('EADDRNOTAVAIL', '10.0.0.1:80', 4), /not an address of this network namespace/);
  assert.match(listenHint('EAFNOSUPPORT', '[::]:80', 6), /IPv6 is disabled/);
  assert.equal(new SocketFdError('x').code, 'LINNET_SOCKET_FD_UNAVAILABLE');
});


test('SpliceError: the stable code, the errno, and that the JavaScript relay takes over', () => {
  const e = new SpliceError('EMFILE', 'dup');
  assert.ok(e instanceof LinnetError);
  assert.equal(e.code, 'LINNET_SPLICE_FAILED');
  assert.equal(e.errno, 'EMFILE');
  assert.match(e.message, /dup failed with EMFILE/);
  assert.match(e.hint ?? '', /ulimit -n/);
  assert.match(spliceHint('EINVAL'), /relayed in JavaScript/);
});
