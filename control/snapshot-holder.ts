/**
 * A source's current snapshot and who listens for a new one: the discovery and policy sources
 * share it. A listener's failure never stops the others from hearing of a change.
 */
export class SnapshotHolder<T> {
  private current: T;
  private readonly listeners = new Set<() => void>();

  constructor(initial: T) {
    this.current = initial;
  }

  get(): T {
    return this.current;
  }

  set(next: T): void {
    this.current = next;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch {
        // One listener's failure must not keep the rest from the change.
      }
    }
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
