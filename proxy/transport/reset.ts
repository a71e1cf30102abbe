import type { Socket } from 'node:net';

/**
 * Resets a connection so the peer sees a reset, not an orderly end. A TLS socket cannot be reset
 * itself (its handle is not TCP): the TCP socket under it is.
 */
export function resetConnection(s: Socket): void {
  if (s.destroyed) return;
  const raw = (s as Socket & { _parent?: Socket })._parent;
  try {
    if (raw && raw !== s) {
      if (!raw.destroyed) raw.resetAndDestroy();
      s.destroy();
    } else s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}
