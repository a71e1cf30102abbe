/**
 * A set of Kubernetes informers run as one source: every change schedules one rebuild (debounced),
 * an informer that stops on an error is started again with doubling backoff (it relists), and
 * start-up waits until every kind has been listed once. The discovery and policy sources share it.
 */
import type * as K8s from '@kubernetes/client-node';
import type { Logger } from '../core/log';

export interface InformerSetOptions {
  log?: Logger;
  /** Coalesces bursts of watch events into one rebuild. */
  debounceMs?: number;
  /** How long start-up waits for the first complete list of every kind. */
  syncTimeoutMs?: number;
  /** Delay before restarting an informer that stopped on an error (doubles up to 30 s). */
  retryBaseMs?: number;
  /**
   * HTTP statuses that mean "none of this kind here" (a CRD not installed: 404; hidden by RBAC:
   * 403): the kind counts as listed and empty, and is looked at again in 30 s.
   */
  emptyOn?: readonly number[];
}

export interface InformerSet {
  close(): Promise<void>;
}

const EMPTY_RETRY_MS = 30_000;
const MAX_RETRY_MS = 30_000;

/**
 * Starts the informers and resolves once each has been listed (then `rebuild` has run once), or
 * false after the sync timeout (everything already stopped again).
 */
export async function startInformers(
  informers: readonly (readonly [string, K8s.Informer<K8s.KubernetesObject>])[],
  rebuild: () => void,
  opts: InformerSetOptions,
): Promise<InformerSet | undefined> {
  const base = opts.retryBaseMs ?? 500;
  const log = opts.log;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) rebuild();
    }, opts.debounceMs ?? 20);
  };

  const synced = new Set<string>();
  let onSynced: (() => void) | undefined;
  const retryTimers = new Set<NodeJS.Timeout>();
  const markSynced = (name: string) => {
    synced.add(name);
    if (synced.size === informers.length) onSynced?.();
  };
  for (const [name, inf] of informers) {
    let delay = base;
    let errors = 0;
    inf.on('change', () => {
      delay = base;
      schedule();
    });
    inf.on('error', (err: unknown) => {
      errors++;
      if (closed) return;
      const e = err as { message?: string; statusCode?: number; code?: number };
      const status = e?.statusCode ?? e?.code;
      const empty = status !== undefined && (opts.emptyOn ?? []).includes(status);
      if (empty) {
        if (status === 403) log?.warn(`kubernetes ${name}: forbidden (RBAC); treated as empty`, { in_ms: EMPTY_RETRY_MS });
        markSynced(name);
      } else log?.warn(`kubernetes ${name} list/watch failed; retrying`, { error: e?.message ?? String(err), status, in_ms: delay });
      // The informer stops itself on an error other than 410 Gone; start it again (it relists).
      const t = setTimeout(() => {
        retryTimers.delete(t);
        if (closed) return;
        const before = errors;
        void inf.start().then(() => {
          if (errors === before) {
            delay = base;
            markSynced(name);
            schedule();
          }
        });
      }, empty ? EMPTY_RETRY_MS : delay);
      retryTimers.add(t);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    });
    // start() resolves once the first list is in and the watch has been opened, or after an error.
    void inf.start().then(() => {
      if (errors === 0) {
        markSynced(name);
        schedule();
      }
    });
  }

  const close = async () => {
    closed = true;
    clearTimeout(timer);
    for (const t of retryTimers) clearTimeout(t);
    await Promise.all(informers.map(([, i]) => i.stop().catch(() => undefined)));
  };
  const ok = await new Promise<boolean>((done) => {
    if (synced.size === informers.length) return done(true);
    const t = setTimeout(() => done(false), opts.syncTimeoutMs ?? 30_000);
    onSynced = () => {
      clearTimeout(t);
      done(true);
    };
  });
  if (!ok) {
    await close();
    return undefined;
  }
  rebuild();
  return { close };
}
