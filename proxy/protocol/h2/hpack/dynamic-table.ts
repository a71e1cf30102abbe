/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of (name, value) entries, newest first,
 * with §4.1 size accounting (octets of name and value plus 32 per entry) against a capacity the
 * encoder sets with size updates. Kept as a ring over two arrays, so adding and evicting move no
 * entries; the ring doubles only when full, so its slots never exceed capacity / 32 rounded up
 * to a power of two.
 *
 * Names and values are latin1 strings: one UTF-16 code unit per octet, so `length` is the octet
 * count the accounting needs.
 */

/** RFC 7541 §4.1: the overhead counted for every entry. */
export const ENTRY_OVERHEAD = 32;

/** What a test or fuzz target may read of a table: never a way to change it. */
export interface TableView {
  /** Entries held. */
  readonly length: number;
  /** Sum of entry sizes (§4.1); never above capacity. */
  readonly size: number;
  /** The maximum size the encoder set (the last size update, or the initial setting). */
  readonly capacity: number;
  /** Entry i, 0 being the newest (HPACK index 62). */
  entry(i: number): [name: string, value: string];
}

export class DynamicTable implements TableView {
  private names: string[] = new Array<string>(16).fill('');
  private values: string[] = new Array<string>(16).fill('');
  private mask = 15;
  /** Slot of the oldest entry. */
  private oldest = 0;
  length = 0;
  size = 0;
  capacity: number;
  /** Entries ever added: the newest has sequence number added - 1 (the encoder keys its lookups on these). */
  added = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Name of entry i, 0 the newest; i < length. */
  name(i: number): string {
    return this.names[(this.oldest + this.length - 1 - i) & this.mask]!;
  }

  value(i: number): string {
    return this.values[(this.oldest + this.length - 1 - i) & this.mask]!;
  }

  entry(i: number): [name: string, value: string] {
    return [this.name(i), this.value(i)];
  }

  /**
   * Adds an entry, evicting the oldest until it fits (§4.4). An entry larger than the capacity
   * empties the table and is not added: not an error.
   */
  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.capacity) {
      while (this.length > 0) this.evictOldest();
      return;
    }
    while (this.size + size > this.capacity) this.evictOldest();
    if (this.length === this.names.length) this.grow();
    const slot = (this.oldest + this.length) & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.length++;
    this.size += size;
    this.added++;
  }

  /** A new maximum size (§4.3): evicts the oldest entries until the rest fit. */
  setCapacity(capacity: number): void {
    this.capacity = capacity;
    while (this.size > capacity) this.evictOldest();
  }

  /** Called for each entry leaving the table, oldest first; `seq` is its sequence number. */
  protected evicted(_name: string, _value: string, _seq: number): void {}

  private evictOldest(): void {
    const slot = this.oldest;
    const name = this.names[slot]!;
    const value = this.values[slot]!;
    // Drop the references so an evicted value can be collected.
    this.names[slot] = '';
    this.values[slot] = '';
    this.oldest = (slot + 1) & this.mask;
    this.length--;
    this.size -= name.length + value.length + ENTRY_OVERHEAD;
    this.evicted(name, value, this.added - this.length - 1);
  }

  private grow(): void {
    const n = this.names.length;
    const names = new Array<string>(n * 2).fill('');
    const values = new Array<string>(n * 2).fill('');
    for (let i = 0; i < this.length; i++) {
      names[i] = this.names[(this.oldest + i) & this.mask]!;
      values[i] = this.values[(this.oldest + i) & this.mask]!;
    }
    this.names = names;
    this.values = values;
    this.mask = n * 2 - 1;
    this.oldest = 0;
  }
}
