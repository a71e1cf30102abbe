import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../core/errors';
import { loadProxyConfig, PROXY_ENV } from './index';
import { parseDuration, parsePortRanges, parseSocketAddr, portSet } from '../../../core/parse';
import { parseOpenFileLimit } from './limits';

test('defaults follow DESIGN.md', () => {
  const c = loadProxyConfig({});
  assert.deepEqual(c.inboundAddr, { host: '0.0.0.0', port: 4143, family: 4 });
  assert.deepEqual(c.outboundAddr, { host: '127.0.0.1', port: 4140, family: 4 });
  assert.deepEqual(c.adminAddr, { host: '0.0.0.0', port: 4191, family: 4 });
  assert.equal(c.workers, 1);
  assert.equal(c.detectTimeoutMs, 250);
  assert.deepEqual([...c.inboundOpaquePorts].sort((a, b) => a - b), [25, 587, 3306, 4444, 5432, 6379, 9300, 11211]);
  assert.equal(c.shutdownGraceMs, 25_000);
  assert.equal(c.shutdownEndpointEnabled, false);
  assert.equal(c.meshedHttp1, 'orig-proto');
  assert.equal(loadProxyConfig({ LINNET_PROXY_OUTBOUND_MESHED_HTTP1: 'http1' }).meshedHttp1, 'http1');
  assert.ok(Object.isFrozen(c));
});

test('every variable is read: a bad value for each names that variable', () => {
  // Identity variables are checked only with identity switched on, so they get a valid base.
  const identityBase = {
    LINNET_PROXY_IDENTITY_SVC_ADDR: '10.0.0.2:8080',
    LINNET_PROXY_IDENTITY_LOCAL_NAME: 'web.demo.serviceaccount.identity.linnet.cluster.local',
    LINNET_PROXY_IDENTITY_TOKEN_FILE: '/var/run/secrets/tokens/linnet-identity-token',
    LINNET_PROXY_IDENTITY_TRUST_ANCHORS: readFileSync(join(__dirname, '..', '..', '..', '..', 'control', 'inject', 'testdata', 'trust-anchors.pem'), 'utf8'),
  };
  assert.ok(loadProxyConfig(identityBase).identity);
  // Any path is a valid token file name; it is read (and re-read) at every certify.
  const free = new Set(['LINNET_PROXY_IDENTITY_TOKEN_FILE']);
  for (const name of Object.keys(PROXY_ENV)) {
    if (free.has(name)) continue;
    const base = name.startsWith('LINNET_PROXY_IDENTITY_') ? identityBase : {};
    assert.throws(
      () => loadProxyConfig({ ...base, [name]: 'bogus value' }),
      (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.includes('expected'),
      name,
    );
  }
});

test('durations', () => {
  assert.equal(parseDuration('X', '300ms'), 300);
  assert.equal(parseDuration('X', '10s'), 10_000);
  assert.equal(parseDuration('X', '2m'), 120_000);
  assert.equal(parseDuration('X', '1h'), 3_600_000);
  assert.equal(parseDuration('X', '1.5s'), 1500);
  assert.equal(parseDuration('X', '75'), 75);
  for (const bad of ['', 's', '-1s', '10 sec', '1e3ms']) assert.throws(() => parseDuration('X', bad), ConfigError, bad);
});

test('port lists and ranges', () => {
  assert.deepEqual(parsePortRanges('P', '25, 587,8000-8002,25'), [
    { lo: 25, hi: 25 },
    { lo: 587, hi: 587 },
    { lo: 8000, hi: 8002 },
  ]);
  assert.deepEqual([...portSet(parsePortRanges('P', '1-3'))], [1, 2, 3]);
  assert.deepEqual(parsePortRanges('P', ''), []);
  for (const bad of ['0', '65536', '10-5', 'a', '1-2-3', '80;81']) {
    assert.throws(() => parsePortRanges('P', bad), (e: unknown) => e instanceof ConfigError && e.variable === 'P', bad);
  }
});

test('socket addresses, v4 and v6', () => {
  assert.deepEqual(parseSocketAddr('A', '[::]:4143'), { host: '::', port: 4143, family: 6 });
  assert.deepEqual(parseSocketAddr('A', '10.0.0.1:80'), { host: '10.0.0.1', port: 80, family: 4 });
  for (const bad of ['localhost:80', '10.0.0.1', '10.0.0.256:80', '[::1]', ':80', '1.2.3.4:99999']) {
    assert.throws(() => parseSocketAddr('A', bad), ConfigError, bad);
  }
});

test('mesh settings: off by default; require-TLS ports, destination and identity parsed', () => {
  const d = loadProxyConfig({});
  assert.equal(d.identity, undefined);
  assert.equal(d.destinationAddr, undefined);
  assert.equal(d.inboundRequireTlsPorts.size, 0);
  const c = loadProxyConfig({ LINNET_PROXY_INBOUND_PORTS_REQUIRE_TLS: '8443,9000-9001', LINNET_PROXY_DESTINATION_SVC_ADDR: '10.0.0.2:8086' });
  assert.deepEqual([...c.inboundRequireTlsPorts].sort(), [8443, 9000, 9001]);
  assert.equal(c.destinationAddr, '10.0.0.2:8086');
});

test('connection limits: the default fits the open-file limit; a set value is taken as given', () => {
  const none = loadProxyConfig({}, { openFileLimit: undefined });
  assert.deepEqual(none.limits, { inboundMaxConnections: 10_000, outboundMaxConnections: 10_000, listenBacklog: 4096 });
  // Kubernetes' usual 1048576 leaves the default alone; 20000 with 1 worker gives (20000 - 1024) / 8.
  assert.equal(loadProxyConfig({}, { openFileLimit: 1_048_576 }).limits.inboundMaxConnections, 10_000);
  assert.equal(loadProxyConfig({}, { openFileLimit: 20_000 }).limits.outboundMaxConnections, 2372);
  assert.equal(loadProxyConfig({ LINNET_PROXY_WORKERS: '2' }, { openFileLimit: 20_000 }).limits.inboundMaxConnections, 1186);
  assert.equal(loadProxyConfig({}, { openFileLimit: 1024 }).limits.inboundMaxConnections, 64);
  const set = loadProxyConfig(
    { LINNET_PROXY_INBOUND_MAX_CONNECTIONS: '50000', LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS: '7', LINNET_PROXY_LISTEN_BACKLOG: '128' },
    { openFileLimit: 20_000 },
  );
  assert.deepEqual(set.limits, { inboundMaxConnections: 50_000, outboundMaxConnections: 7, listenBacklog: 128 });
  for (const [name, bad] of [
    ['LINNET_PROXY_INBOUND_MAX_CONNECTIONS', '0'],
    ['LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS', '-5'],
    ['LINNET_PROXY_LISTEN_BACKLOG', '70000'],
  ] as const) {
    assert.throws(() => loadProxyConfig({ [name]: bad }), (e: unknown) => e instanceof ConfigError && e.variable === name && /whole number from 1/.test(e.message), name);
  }
});

test('open-file limit from /proc/self/limits', () => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                524288               files\n';
  assert.equal(parseOpenFileLimit(text), 20_000);
  assert.equal(parseOpenFileLimit(text.replace('20000', 'unlimited')), undefined);
  assert.equal(parseOpenFileLimit(''), undefined);
});

test('HTTP/2 settings: defaults, explicit values, and bad ones named with the accepted form', () => {
  assert.deepEqual(loadProxyConfig({}).http2, {
    maxConcurrentStreams: 1000,
    initialStreamWindowSize: 1 << 20,
    initialConnectionWindowSize: 16 << 20,
    maxSessionMemoryMb: 64,
    maxHeaderListSize: 65_535,
    keepAliveTimeoutMs: 3000,
  });
  const c = loadProxyConfig({
    LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS: '37',
    LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE: '65535',
    LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE: '2147483647',
    LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB: '8',
    LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE: '8192',
    LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT: '0',
  }).http2;
  assert.deepEqual(c, { maxConcurrentStreams: 37, initialStreamWindowSize: 65_535, initialConnectionWindowSize: 2 ** 31 - 1, maxSessionMemoryMb: 8, maxHeaderListSize: 8192, keepAliveTimeoutMs: 0 });
  for (const [name, bad, form] of [
    ['LINNET_PROXY_HTTP2_INITIAL_STREAM_WINDOW_SIZE', '65534', /from 65535 to 2147483647/],
    ['LINNET_PROXY_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE', '2147483648', /from 65535 to 2147483647/],
    ['LINNET_PROXY_HTTP2_MAX_CONCURRENT_STREAMS', '0', /whole number from 1/],
    ['LINNET_PROXY_HTTP2_MAX_SESSION_MEMORY_MB', '1.5', /whole number from 1/],
    ['LINNET_PROXY_HTTP2_MAX_HEADER_LIST_SIZE', '1k', /whole number from 1/],
    ['LINNET_PROXY_HTTP2_KEEPALIVE_TIMEOUT', 'soon', /duration/],
  ] as const) {
    assert.throws(() => loadProxyConfig({ [name]: bad }), (e: unknown) => e instanceof ConfigError && e.variable === name && form.test(e.message), name);
  }
});

test('tap: off unless a tap identity is named; needs identity; addresses, caps and buffer parsed', () => {
  assert.equal(loadProxyConfig({}).tap, undefined);
  const identity = {
    LINNET_PROXY_IDENTITY_SVC_ADDR: '10.0.0.2:8080',
    LINNET_PROXY_IDENTITY_LOCAL_NAME: 'web.demo.serviceaccount.identity.linnet.cluster.local',
    LINNET_PROXY_IDENTITY_TOKEN_FILE: '/t',
    LINNET_PROXY_IDENTITY_TRUST_ANCHORS: readFileSync(join(__dirname, '..', '..', '..', '..', 'control', 'inject', 'testdata', 'trust-anchors.pem'), 'utf8'),
  };
  const TAP = 'tap.linnet-viz.serviceaccount.identity.linnet.cluster.local';
  assert.deepEqual(loadProxyConfig({ ...identity, LINNET_PROXY_TAP_SVC_NAME: TAP }).tap, {
    addr: { host: '0.0.0.0', port: 4190, family: 4 },
    svcName: TAP,
    maxRps: 100,
    buffer: 1000,
  });
  const t = loadProxyConfig({ ...identity, LINNET_PROXY_TAP_SVC_NAME: TAP, LINNET_PROXY_TAP_LISTEN_ADDR: '[::]:14190', LINNET_PROXY_TAP_MAX_RPS: '5000', LINNET_PROXY_TAP_BUFFER: '10' }).tap!;
  assert.deepEqual([t.addr.host, t.addr.port, t.maxRps, t.buffer], ['::', 14190, 5000, 10]);
  assert.throws(
    () => loadProxyConfig({ LINNET_PROXY_TAP_SVC_NAME: TAP }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'LINNET_PROXY_TAP_SVC_NAME' && /LINNET_PROXY_IDENTITY_SVC_ADDR/.test(e.message),
  );
  assert.throws(() => loadProxyConfig({ ...identity, LINNET_PROXY_TAP_SVC_NAME: TAP, LINNET_PROXY_TAP_MAX_RPS: '0' }), /LINNET_PROXY_TAP_MAX_RPS/);
});

test('heap growing percent: 50 by default, 0 leaves V8 its own, out of range refused with the form', () => {
  assert.equal(loadProxyConfig({}).heapGrowingPercent, 50);
  assert.equal(loadProxyConfig({ LINNET_PROXY_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0);
  assert.equal(loadProxyConfig({ LINNET_PROXY_HEAP_GROWING_PERCENT: '400' }).heapGrowingPercent, 400);
  for (const bad of ['401', '-1', '1.5']) {
    assert.throws(
      () => loadProxyConfig({ LINNET_PROXY_HEAP_GROWING_PERCENT: bad }),
      (e: unknown) => e instanceof ConfigError && /LINNET_PROXY_HEAP_GROWING_PERCENT/.test(e.message) && /a whole number from 0 to 400/.test(e.message),
    );
  }
});
