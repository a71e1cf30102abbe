/**
 * The open-loop generator's idle connections, used in turn (first freed, first used), as wrk2
 * spreads its rate over all its connections. A stack (last freed, first used) would carry nearly
 * all requests on the one or two connections that answer first and leave the rest silent, and a
 * proxy must take a connection that stays silent past its detect timeout for a server-speaks-first
 * protocol: it forwards it as opaque TCP (on the meshed path, one mTLS handshake per silent
 * connection, all at the same moment). The scenario would then measure that burst and a mix of
 * paths instead of HTTP requests through the proxy.
 */
export class IdleQueue<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The connection idle the longest, or undefined. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++]!;
    // Compact now and then so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
