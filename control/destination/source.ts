/**
 * The one interface every discovery source implements. A source holds the current snapshot of
 * the mesh and tells subscribers when it changed; the Destination server re-resolves and diffs
 * each open stream on every change, so sources never need to know what clients asked for.
 */
import type { MeshIndex } from './model';

export interface DiscoverySource {
  /** 'file' or 'kubernetes', for logs. */
  readonly kind: string;
  /** The current snapshot; cheap, call it as often as needed. */
  snapshot(): MeshIndex;
  /** Calls `fn` after every change of the snapshot; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** Stops watching. */
  close(): Promise<void>;
}

/** A small helper sources share: a snapshot plus listeners. */
export class SnapshotHolder {
  private current: MeshIndex;
  private readonly listeners = new Set<() => void>();
  constructor(initial: MeshIndex) {
    this.current = initial;
  }
  get(): MeshIndex {
    return this.current;
  }
  set(next: MeshIndex): void {
    this.current = next;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch {
        // A listener's failure must not stop the others from hearing about the change.
      }
    }
  }
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
