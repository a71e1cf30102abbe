/**
 * Where a request head that arrives in pieces is put together: a doubling store, so a trickled
 * head is copied O(n) times in all instead of once per read. A connection makes one only when a
 * head spans reads.
 */
export class HeadStore {
  private store: Buffer | undefined;

  /** `b` (the bytes of the head read so far, non-empty) followed by `chunk`. */
  append(b: Buffer, chunk: Buffer): Buffer {
    const need = b.length + chunk.length;
    const st = this.store;
    // Only ever written past the end of a buffer that starts the store: bytes an exchange still
    // holds (its head, kept for a retry) lie before a consumed prefix and are never overwritten.
    if (st && b.buffer === st.buffer && b.byteOffset === st.byteOffset && need <= st.length) {
      chunk.copy(st, b.length);
      return st.subarray(0, need);
    }
    const next = Buffer.allocUnsafe(Math.max(need * 2, 4096));
    b.copy(next, 0);
    chunk.copy(next, b.length);
    this.store = next;
    return next.subarray(0, need);
  }
}
