/**
 * The file discovery source (the embedded default): reads the mesh file, then watches its
 * directory (editors and Kubernetes ConfigMap mounts replace the file rather than write it in
 * place, which a watch on the file itself would miss). Each change is re-parsed; a bad edit
 * keeps the last good state and is logged with the reasons.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { parseMeshFile } from './mesh-file';
import { indexMesh, type MeshIndex, type MeshState } from './model';
import { SnapshotHolder, type DiscoverySource } from './source';

export interface FileSourceOptions {
  file: string;
  log?: Logger;
  /** Coalesces bursts of file events (an editor's write + rename) into one reload. */
  debounceMs?: number;
  /** A slow re-read that catches changes a watch can miss (network file systems). 0 = off. */
  pollMs?: number;
}

export interface FileSource extends DiscoverySource {
  /** The last good state, for the token verifier. */
  state(): MeshState;
  /** Re-reads the file now; resolves true when a new good state was applied. */
  reload(): Promise<boolean>;
}

/** Reads and validates the file once, then watches it. Throws MeshFileError if the first read is bad. */
export async function createFileSource(opts: FileSourceOptions): Promise<FileSource> {
  const file = resolvePath(opts.file);
  const log = opts.log;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new LinnetError('LINNET_MESH_FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, {
      hint: 'pass an existing file with --discovery-file',
      cause: err,
    });
  }
  let state = parseMeshFile(text, file);
  let lastText = text;
  const holder = new SnapshotHolder(indexMesh(state));
  let closed = false;

  const reload = async (): Promise<boolean> => {
    if (closed) return false;
    let next: string;
    try {
      next = await readFile(file, 'utf8');
    } catch (err) {
      log?.warn('mesh file unreadable; keeping the last good state', { file, error: (err as Error).message });
      return false;
    }
    if (closed || next === lastText) return false;
    lastText = next;
    try {
      state = parseMeshFile(next, file);
    } catch (err) {
      const why = err instanceof LinnetError ? err.message : String(err);
      log?.warn(`mesh file rejected; keeping the last good state: ${why}`, { file });
      return false;
    }
    holder.set(indexMesh(state));
    log?.info('mesh file reloaded', { file, services: state.services.length, workloads: state.workloads.length });
    return true;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 50);
  };
  const name = basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // ConfigMap mounts swap a `..data` symlink; any name that is not ours but starts with '..'
      // is such a swap and may change what our path points to.
      if (changed === null || changed === name || String(changed).startsWith('..')) schedule();
    });
    watcher.on('error', (err) => log?.warn('mesh file watch failed; falling back to polling', { error: err.message }));
  } catch (err) {
    log?.warn('cannot watch the mesh file directory; polling only', { error: (err as Error).message });
  }
  const pollMs = opts.pollMs ?? 2000;
  const poll = pollMs > 0 ? setInterval(() => void reload(), pollMs) : undefined;
  poll?.unref();

  return {
    kind: 'file',
    snapshot: (): MeshIndex => holder.get(),
    subscribe: (fn) => holder.subscribe(fn),
    state: () => state,
    reload,
    close: async () => {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
