/**
 * The proxy's whole configuration, read from LINNET_PROXY_* in this one place into a typed,
 * frozen object. A bad value throws ConfigError naming the variable and the accepted form, so
 * start-up stops before any socket is opened.
 */
import {
  parseBool,
  parseDuration,
  parseEnum,
  parseIntInRange,
  parsePortRanges,
  parsePositiveInt,
  parseSocketAddr,
  portSet,
  type SocketAddr,
} from '../../../core/parse';
import type { LogLevel } from '../../../core/log';
import type { H1Settings } from '../../protocol/h1/server';
import type { H2Settings } from '../../protocol/h2/settings';
import { parseDiscoveryEnv } from './discovery';
import { HTTP1_ENV, parseHttp1Env } from './http1';
import { HTTP2_ENV, parseHttp2Env } from './http2';
import { IDENTITY_ENV, parseIdentityEnv, type IdentityConfig } from './identity';
import { LIMITS_ENV, parseLimitsEnv, processOpenFileLimit, type ConnectionLimits } from './limits';
import { parsePolicyEnv, POLICY_ENV, type PolicyConfig } from './policy';
import { parseTapEnv, TAP_ENV, type TapConfig } from './tap';

export type { LogLevel };

export interface ProxyConfig {
  readonly inboundAddr: SocketAddr;
  readonly outboundAddr: SocketAddr;
  readonly adminAddr: SocketAddr;
  readonly workers: number;
  readonly detectTimeoutMs: number;
  readonly inboundOpaquePorts: ReadonlySet<number>;
  readonly outboundOpaquePorts: ReadonlySet<number>;
  readonly connectTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly shutdownEndpointEnabled: boolean;
  readonly log: LogLevel;
  /** HTTP/1: head limits, response and head-read timeouts, keep-alive pools (LINNET_PROXY_HTTP_*). */
  readonly http1: H1Settings;
  /** HTTP/2 session settings, both towards clients and upstreams (LINNET_PROXY_HTTP2_*). */
  readonly http2: H2Settings;
  /** Per-worker connection caps and the listen backlog (limits.ts). */
  readonly limits: ConnectionLimits;
  /** Identity (and so mTLS); undefined when LINNET_PROXY_IDENTITY_SVC_ADDR is unset. */
  readonly identity: IdentityConfig | undefined;
  /** Destination service host:port; undefined: outbound goes to the original destination. */
  readonly destinationAddr: string | undefined;
  /** Inbound ports where plaintext (no mTLS) connections are refused. */
  readonly inboundRequireTlsPorts: ReadonlySet<number>;
  /** Ingress mode: outbound HTTP is routed by l5d-dst-override or the request's authority. */
  readonly ingressMode: boolean;
  /** Inbound authorization: the policy service and the default policy (policy.ts). */
  readonly policy: PolicyConfig;
  /** How HTTP/1.1 goes to a meshed endpoint: `orig-proto` (a stream on the pooled HTTP/2 session) or `http1`. */
  readonly meshedHttp1: MeshedHttp1;
  /** The tap server (tap.ts); undefined when LINNET_PROXY_TAP_SVC_NAME is unset. */
  readonly tap: TapConfig | undefined;
  /** Outbound routes honour a request's l5d-retry-* and l5d-timeout headers. */
  readonly allowL5dRequestHeaders: boolean;
  /** V8's old-generation growth between full collections, percent of the live heap; 0: V8's own (core/proxy-node-options.ts). */
  readonly heapGrowingPercent: number;
}

export type MeshedHttp1 = 'orig-proto' | 'http1';

/** The variables, their defaults and meanings: the README's configuration table is this list. */
export const PROXY_ENV = {
  LINNET_PROXY_INBOUND_LISTEN_ADDR: { default: '0.0.0.0:4143', meaning: 'where inbound (redirected by PREROUTING) connections are accepted' },
  LINNET_PROXY_OUTBOUND_LISTEN_ADDR: { default: '127.0.0.1:4140', meaning: 'where outbound (redirected by OUTPUT) connections are accepted' },
  LINNET_PROXY_ADMIN_LISTEN_ADDR: { default: '0.0.0.0:4191', meaning: 'admin server: /live, /ready, /metrics, /shutdown' },
  LINNET_PROXY_WORKERS: { default: '1', meaning: 'worker threads sharing the listeners through SO_REUSEPORT (1-64)' },
  LINNET_PROXY_DETECT_TIMEOUT: {
    default: '250ms',
    meaning: 'how long to wait for the client\'s first bytes before treating the connection as opaque (server-speaks-first protocols)',
  },
  LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: {
    default: '25,587,3306,4444,5432,6379,9300,11211',
    meaning: 'inbound ports forwarded as opaque TCP with no detection (ports and ranges)',
  },
  LINNET_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: {
    default: '25,587,3306,4444,5432,6379,9300,11211',
    meaning: 'outbound destination ports forwarded as opaque TCP with no detection',
  },
  LINNET_PROXY_CONNECT_TIMEOUT: { default: '1s', meaning: 'how long a connection to the target may take before it counts as failed' },
  LINNET_PROXY_SHUTDOWN_GRACE_PERIOD: {
    default: '25s',
    meaning: 'on SIGTERM, how long open connections may take to finish (the injector writes config.linnet.io/shutdown-grace-period, default 120s, and raises the pod\'s terminationGracePeriodSeconds to match; a bare proxy keeps below Kubernetes\' 30s default)',
  },
  LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED: { default: 'false', meaning: 'whether POST /shutdown (localhost only) is served (the injector sets it for config.linnet.io/proxy-admin-shutdown: enabled; off by default, CVE-2024-40632)' },
  LINNET_PROXY_LOG: { default: 'info', meaning: 'log level: error|warn|info|debug' },
  ...HTTP1_ENV,
  ...HTTP2_ENV,
  ...LIMITS_ENV,
  LINNET_PROXY_DESTINATION_SVC_ADDR: {
    default: '',
    meaning: 'the Destination service, HOST:PORT (unset: the outbound side forwards to the original destination)',
  },
  LINNET_PROXY_INBOUND_PORTS_REQUIRE_TLS: {
    default: '',
    meaning: 'inbound ports that refuse connections without mTLS from a meshed peer (ports and ranges; default none)',
  },
  LINNET_PROXY_INGRESS_MODE: {
    default: 'false',
    meaning:
      'ingress mode (the `ingress` inject mode sets it): outbound HTTP requests are routed by their l5d-dst-override header, else their Host/:authority, through discovery, instead of by the original destination; a name discovery does not know falls back to the original destination',
  },
  LINNET_PROXY_OUTBOUND_ALLOW_L5D_REQUEST_HEADERS: {
    default: 'false',
    meaning:
      'outbound routes honour a request\'s own l5d-retry-http, l5d-retry-grpc, l5d-retry-limit, l5d-retry-timeout, l5d-timeout and l5d-response-timeout headers over the route\'s settings (as Linkerd\'s allow-l5d-request-headers); off: they are ignored',
  },
  LINNET_PROXY_OUTBOUND_MESHED_HTTP1: {
    default: 'orig-proto',
    meaning:
      "how outbound HTTP/1.1 travels to a meshed endpoint: `orig-proto` (a stream on one pooled mTLS HTTP/2 connection, turned back into HTTP/1.1 by the peer's proxy, as Linkerd does) or `http1` (pooled mTLS HTTP/1.1 connections, one per request in flight)",
  },
  LINNET_PROXY_HEAP_GROWING_PERCENT: {
    default: '50',
    meaning:
      "how far V8 lets the proxy's old generation grow past what the last full collection kept, in percent (0-400; 0: V8's own choice, up to 4x): lower holds less memory for more frequent full collections",
  },
  ...IDENTITY_ENV,
  ...POLICY_ENV,
  ...TAP_ENV,
} as const;

export type ProxyEnvName = keyof typeof PROXY_ENV;

/** What the defaults depend on besides the environment (the process's open-file limit). */
export interface SystemFacts {
  openFileLimit: number | undefined;
}

export function loadProxyConfig(env: NodeJS.ProcessEnv = process.env, sys: SystemFacts = { openFileLimit: processOpenFileLimit() }): ProxyConfig {
  const get = (name: ProxyEnvName): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? PROXY_ENV[name].default : v;
  };
  const workers = parsePositiveInt('LINNET_PROXY_WORKERS', get('LINNET_PROXY_WORKERS'), 64);
  const identity = parseIdentityEnv(env);
  const config: ProxyConfig = {
    inboundAddr: parseSocketAddr('LINNET_PROXY_INBOUND_LISTEN_ADDR', get('LINNET_PROXY_INBOUND_LISTEN_ADDR')),
    outboundAddr: parseSocketAddr('LINNET_PROXY_OUTBOUND_LISTEN_ADDR', get('LINNET_PROXY_OUTBOUND_LISTEN_ADDR')),
    adminAddr: parseSocketAddr('LINNET_PROXY_ADMIN_LISTEN_ADDR', get('LINNET_PROXY_ADMIN_LISTEN_ADDR')),
    workers,
    detectTimeoutMs: parseDuration('LINNET_PROXY_DETECT_TIMEOUT', get('LINNET_PROXY_DETECT_TIMEOUT')),
    inboundOpaquePorts: portSet(
      parsePortRanges('LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', get('LINNET_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION')),
    ),
    outboundOpaquePorts: portSet(
      parsePortRanges('LINNET_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', get('LINNET_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION')),
    ),
    connectTimeoutMs: parseDuration('LINNET_PROXY_CONNECT_TIMEOUT', get('LINNET_PROXY_CONNECT_TIMEOUT')),
    shutdownGraceMs: parseDuration('LINNET_PROXY_SHUTDOWN_GRACE_PERIOD', get('LINNET_PROXY_SHUTDOWN_GRACE_PERIOD')),
    shutdownEndpointEnabled: parseBool('LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED', get('LINNET_PROXY_SHUTDOWN_ENDPOINT_ENABLED')),
    log: parseEnum('LINNET_PROXY_LOG', get('LINNET_PROXY_LOG'), ['error', 'warn', 'info', 'debug'] as const),
    http1: parseHttp1Env(env),
    http2: parseHttp2Env(env),
    limits: parseLimitsEnv(env, workers, sys.openFileLimit),
    identity,
    destinationAddr: parseDiscoveryEnv(env).destinationAddr,
    inboundRequireTlsPorts: portSet(parsePortRanges('LINNET_PROXY_INBOUND_PORTS_REQUIRE_TLS', get('LINNET_PROXY_INBOUND_PORTS_REQUIRE_TLS'))),
    ingressMode: parseBool('LINNET_PROXY_INGRESS_MODE', get('LINNET_PROXY_INGRESS_MODE')),
    policy: parsePolicyEnv(env),
    meshedHttp1: parseEnum('LINNET_PROXY_OUTBOUND_MESHED_HTTP1', get('LINNET_PROXY_OUTBOUND_MESHED_HTTP1'), ['orig-proto', 'http1'] as const),
    tap: parseTapEnv(env, identity !== undefined),
    allowL5dRequestHeaders: parseBool('LINNET_PROXY_OUTBOUND_ALLOW_L5D_REQUEST_HEADERS', get('LINNET_PROXY_OUTBOUND_ALLOW_L5D_REQUEST_HEADERS')),
    heapGrowingPercent: parseIntInRange('LINNET_PROXY_HEAP_GROWING_PERCENT', get('LINNET_PROXY_HEAP_GROWING_PERCENT'), 0, 400),
  };
  return deepFreeze(config);
}

/** The configuration is handed down, never changed: frozen all the way (Sets stay as they are). */
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Set) && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
