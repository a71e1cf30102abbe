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

export { SnapshotHolder } from '../snapshot-holder';
