/**
 * Applies the connection cap (connection-limit.ts) to a listener's accepted sockets: a refused
 * connection is reset before any work is spent on it (no original-destination lookup, no
 * detection, no upstream connect), an evicted one is closed with ECONNABORTED (its relay resets
 * the upstream side), both are counted, and a warning is logged at most once per interval with
 * the counts since the last one, so a flood cannot flood the log too.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import type { Direction } from '../metrics/tcp-metrics';
import type { LimitMetrics } from '../metrics/limit-metrics';
import { ConnectionLimit } from './connection-limit';

export interface LimitGuardOptions {
  direction: Direction;
  max: number;
  /** A connection younger than this is never evicted (it may not have had its chance to speak). */
  minSilentAgeMs: number;
  metrics: LimitMetrics;
  log: Logger;
  logEveryMs?: number;
  now?: () => number;
}

export class LimitGuard {
  private readonly limit: ConnectionLimit<Socket>;
  private readonly now: () => number;
  private refused = 0;
  private evicted = 0;
  private lastLog = -Infinity;

  constructor(private readonly opts: LimitGuardOptions) {
    this.now = opts.now ?? Date.now;
    this.limit = new ConnectionLimit<Socket>(opts.max, opts.minSilentAgeMs, this.now);
  }

  /** Connections counted against the cap now. */
  get size(): number {
    return this.limit.size;
  }

  /** true: handle the connection; false: it has been refused (reset) and must not be touched. */
  admit(socket: Socket): boolean {
    const { direction, metrics } = this.opts;
    const a = this.limit.admit(socket);
    if (!a.admitted) {
      metrics.refused.inc({ direction, reason: 'max_connections' });
      this.refused++;
      this.report();
      socket.on('error', () => {});
      socket.resetAndDestroy();
      return false;
    }
    socket.once('close', () => this.limit.release(socket));
    if (a.evict) {
      metrics.evicted.inc({ direction, reason: 'silent' });
      this.evicted++;
      this.report();
      a.evict.destroy(Object.assign(new Error('closed to make room at the connection limit'), { code: 'ECONNABORTED' }));
    }
    return true;
  }

  private report(): void {
    const t = this.now();
    if (t - this.lastLog < (this.opts.logEveryMs ?? 10_000)) return;
    this.lastLog = t;
    this.opts.log.warn('connection limit reached: silent connections evicted, new ones refused while none is silent', {
      direction: this.opts.direction,
      max_connections: this.opts.max,
      evicted: this.evicted,
      refused: this.refused,
      hint: `raise LINNET_PROXY_${this.opts.direction.toUpperCase()}_MAX_CONNECTIONS (and the open-file limit) if this is real load`,
    });
    this.refused = 0;
    this.evicted = 0;
  }
}
