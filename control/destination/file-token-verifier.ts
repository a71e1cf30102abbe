/**
 * The identity CA's TokenVerifier backed by the mesh file's `workloads` list. It follows the
 * file: every check reads the file source's last good state, so adding a workload (or rotating
 * its token) in the file takes effect without a restart. The comparison itself is the identity
 * module's StaticTokenVerifier (constant-time, no oracle for which identities exist).
 */
import { StaticTokenVerifier, type TokenVerifier } from '../identity/token-verifier';
import type { MeshWorkload } from './model';

export class FileTokenVerifier implements TokenVerifier {
  private seen: readonly MeshWorkload[] | undefined;
  private inner: StaticTokenVerifier | undefined;

  /** `workloads` returns the current list; the file source's `() => source.state().workloads`. */
  constructor(private readonly workloads: () => readonly MeshWorkload[]) {}

  verify(token: string, identity: string): Promise<void> {
    const now = this.workloads();
    // Rebuild the lookup table only when the file produced a new list.
    if (now !== this.seen || !this.inner) {
      this.seen = now;
      this.inner = new StaticTokenVerifier(now);
    }
    return this.inner.verify(token, identity);
  }
}
