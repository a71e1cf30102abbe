/**
 * Connection limits from LINNET_PROXY_* (listed in PROXY_ENV through LIMITS_ENV): how many connections a worker
 * keeps open per direction, and the listen backlog the kernel queues while a worker is busy.
 *
 * The default connection cap fits the open-file limit, as HAProxy derives maxconn from ulimit -n:
 * each proxied connection holds two descriptors (the client's and the upstream's), and two more
 * while the kernel relay carries it (its own descriptors for the two sockets,
 * transport/splice-relay.ts), in each of two directions, in every worker, and some are kept back
 * for listeners, admin, control plane, pools and the relay's pipes. Without that, a flood of connections ends in EMFILE, where accept and connect fail for
 * everyone instead of the newest connection being refused.
 */
import { readFileSync } from 'node:fs';
import { parsePositiveInt } from '../../../core/parse';

export const LIMITS_ENV = {
  LINNET_PROXY_INBOUND_MAX_CONNECTIONS: {
    default: '10000',
    meaning:
      'per worker: inbound connections open at once. At the cap a new connection takes the place of the oldest silent one (no byte either way, open longer than the detect timeout: a client and a server that both wait); if none is silent, the new one is reset. When unset, lowered to fit the open-file limit: (limit - 1024) / (8 x workers)',
  },
  LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS: {
    default: '10000',
    meaning: 'per worker: outbound connections open at once; same rules as LINNET_PROXY_INBOUND_MAX_CONNECTIONS',
  },
  LINNET_PROXY_LISTEN_BACKLOG: {
    default: '4096',
    meaning:
      'connections the kernel queues on each listener while the worker is busy accepting (the kernel caps it at net.core.somaxconn); a full queue drops SYNs and clients wait a second or more to retry',
  },
} as const;

type Name = keyof typeof LIMITS_ENV;

export interface ConnectionLimits {
  /** Per worker: open accepted connections on each side before the limit acts. */
  readonly inboundMaxConnections: number;
  readonly outboundMaxConnections: number;
  readonly listenBacklog: number;
}

/** Descriptors kept back from the per-connection budget (listeners, admin, discovery, pools, logs). */
export const RESERVED_FDS = 1024;
/** The default cap never drops below this, however low the open-file limit. */
export const MIN_DEFAULT_CONNECTIONS = 64;
const MAX_CONNECTIONS = 1_000_000;

/** The default per-worker, per-direction cap for an open-file limit (undefined: unknown). */
export function defaultMaxConnections(fallback: number, workers: number, openFileLimit: number | undefined): number {
  if (openFileLimit === undefined || !Number.isFinite(openFileLimit)) return fallback;
  // 2 directions x (2 sockets + the kernel relay's 2 descriptors of them).
  const fit = Math.floor((openFileLimit - RESERVED_FDS) / (8 * workers));
  return Math.max(MIN_DEFAULT_CONNECTIONS, Math.min(fallback, fit));
}

export function parseLimitsEnv(env: NodeJS.ProcessEnv, workers: number, openFileLimit: number | undefined): ConnectionLimits {
  const set = (name: Name) => env[name] !== undefined && env[name]!.trim() !== '';
  const max = (name: 'LINNET_PROXY_INBOUND_MAX_CONNECTIONS' | 'LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS') => {
    if (set(name)) return parsePositiveInt(name, env[name]!, MAX_CONNECTIONS);
    return defaultMaxConnections(Number(LIMITS_ENV[name].default), workers, openFileLimit);
  };
  return {
    inboundMaxConnections: max('LINNET_PROXY_INBOUND_MAX_CONNECTIONS'),
    outboundMaxConnections: max('LINNET_PROXY_OUTBOUND_MAX_CONNECTIONS'),
    listenBacklog: parsePositiveInt(
      'LINNET_PROXY_LISTEN_BACKLOG',
      set('LINNET_PROXY_LISTEN_BACKLOG') ? env.LINNET_PROXY_LISTEN_BACKLOG! : LIMITS_ENV.LINNET_PROXY_LISTEN_BACKLOG.default,
      65535,
    ),
  };
}

/** The soft RLIMIT_NOFILE from /proc/self/limits ("Max open files"); undefined if unknown or unlimited. */
export function parseOpenFileLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (!m || !/^\d+$/.test(m[1]!)) return undefined;
  return Number(m[1]);
}

/** This process's open-file limit (read at start-up, with the rest of the configuration). */
export function processOpenFileLimit(): number | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}
