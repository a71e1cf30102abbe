/**
 * The per-worker, per-direction connection cap (LINNET_PROXY_{IN,OUT}BOUND_MAX_CONNECTIONS): the
 * admission policy alone, pure, with the clock injected; limit-guard.ts applies it
 * to sockets.
 *
 * Below the cap every connection is admitted. At the cap a new connection takes the place of the
 * oldest *silent* one, a connection that has carried no byte in either direction although it had
 * its chance (older than `minSilentAgeMs`, the detect timeout). Such a connection is a client
 * that never spoke to a server that never spoke: the idle flood this cap exists for. nginx does the same when worker_connections run out (it closes idle keep-alive
 * connections first). A server-speaks-first protocol (SMTP, MySQL) is not silent: its banner was
 * written to the client. If no connection is silent, the new one is refused: every open one is
 * doing work, and refusing the newest keeps memory and descriptors bounded.
 */

/** What the policy needs from a connection: its byte counts (a net.Socket has them). */
export interface Counted {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export type Admission<C> = { admitted: true; evict?: C } | { admitted: false };

export class ConnectionLimit<C extends Counted> {
  /** Every admitted connection still counted against the cap. */
  private readonly members = new Set<C>();
  /** Admitted connections not yet seen to carry a byte, oldest first (Map keeps insertion order). */
  private readonly silent = new Map<C, number>();

  constructor(
    readonly max: number,
    private readonly minSilentAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.members.size;
  }

  /**
   * Decides for a newly accepted connection. `evict`, when set, no longer counts: the caller
   * closes it. A refused connection was never counted.
   */
  admit(conn: C): Admission<C> {
    let evict: C | undefined;
    if (this.members.size >= this.max) {
      evict = this.takeSilent();
      if (evict === undefined) return { admitted: false };
    }
    this.members.add(conn);
    this.silent.set(conn, this.now());
    return evict === undefined ? { admitted: true } : { admitted: true, evict };
  }

  /** The connection closed (for any reason, eviction included); idempotent. */
  release(conn: C): void {
    this.members.delete(conn);
    this.silent.delete(conn);
  }

  /**
   * The oldest connection that is old enough and still has carried nothing. Connections found to
   * have carried bytes leave the silent list for good, so each is looked at once while it is
   * silent and once after: admission costs O(1) amortised.
   */
  private takeSilent(): C | undefined {
    const now = this.now();
    for (const [conn, since] of this.silent) {
      if (conn.bytesRead > 0 || conn.bytesWritten > 0) {
        this.silent.delete(conn);
        continue;
      }
      // The rest are younger still.
      if (now - since < this.minSilentAgeMs) return undefined;
      this.release(conn);
      return conn;
    }
    return undefined;
  }
}
