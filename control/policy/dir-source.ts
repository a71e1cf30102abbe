/**
 * The embedded policy source: every `*.yaml`, `*.yml` and `*.json` file of a directory
 * (`linnet control --policy-dir DIR`), watched, with the pods of the mesh file. A file that does
 * not read is logged with its path and the path of each problem, and its last good resources are
 * kept (a file never read well contributes nothing), so one bad edit never opens or closes a door
 * by accident.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { LinnetError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { DiscoverySource } from '../destination/source';
import { canonicalIp } from '../destination/model';
import { PolicyIndex } from './compile';
import { parsePolicyDocuments } from './documents';
import { meshServiceParent, podsFromMesh } from './mesh-pods';
import type { PolicyResource } from './resources';
import { PolicyHolder, type PolicySource } from './source';

export interface PolicyDirOptions {
  dir: string;
  /** The mesh file's source: its endpoints are the pods. */
  discovery: DiscoverySource;
  log?: Logger;
  debounceMs?: number;
  pollMs?: number;
}

export interface PolicyDirSource extends PolicySource {
  /** Re-reads the directory now. */
  reload(): Promise<void>;
}

const POLICY_FILE = /\.(ya?ml|json)$/;

export async function createPolicyDirSource(opts: PolicyDirOptions): Promise<PolicyDirSource> {
  const dir = resolvePath(opts.dir);
  const log = opts.log;
  try {
    await readdir(dir);
  } catch (err) {
    throw new LinnetError('LINNET_POLICY_DIR_UNREADABLE', `cannot read the policy directory ${dir}: ${(err as Error).message}`, { hint: 'pass an existing directory with --policy-dir', cause: err });
  }
  /** Per file: its text and its last good resources. */
  const files = new Map<string, { text: string; good: PolicyResource[] }>();
  const holder = new PolicyHolder();
  let closed = false;

  const publish = () => {
    const resources = [...files.values()].flatMap((f) => f.good);
    const mesh = opts.discovery.snapshot();
    const pods = podsFromMesh(mesh);
    holder.set({ index: new PolicyIndex(resources), pod: (w) => pods.get(canonicalIp(w)) ?? pods.get(w), service: (t) => meshServiceParent(mesh, t) });
  };

  const reload = async (): Promise<void> => {
    if (closed) return;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => POLICY_FILE.test(n) && !n.startsWith('.')).sort();
    } catch (err) {
      log?.warn('policy directory unreadable; keeping the last good policy', { dir, error: (err as Error).message });
      return;
    }
    let changed = false;
    for (const gone of [...files.keys()].filter((f) => !names.includes(f))) {
      files.delete(gone);
      changed = true;
    }
    for (const [i, name] of names.entries()) {
      const path = join(dir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue; // replaced under us; the next event reads it
      }
      const prev = files.get(name);
      if (prev?.text === text) continue;
      try {
        files.set(name, { text, good: parsePolicyDocuments(text, path, i) });
        changed = true;
      } catch (err) {
        files.set(name, { text, good: prev?.good ?? [] });
        log?.warn(`policy file rejected; keeping its last good state: ${err instanceof LinnetError ? err.message : String(err)}`, { file: path });
      }
    }
    if (changed && !closed) {
      publish();
      log?.info('policy reloaded', { dir, files: files.size, resources: holder.get().index.all.length });
    }
  };

  await reload();
  publish();
  const unsubscribe = opts.discovery.subscribe(publish);

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 50);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, () => schedule());
    watcher.on('error', (err) => log?.warn('policy directory watch failed; polling', { error: err.message }));
  } catch (err) {
    log?.warn('cannot watch the policy directory; polling only', { error: (err as Error).message });
  }
  const pollMs = opts.pollMs ?? 2000;
  const poll = pollMs > 0 ? setInterval(() => void reload(), pollMs) : undefined;
  poll?.unref();

  return {
    kind: 'dir',
    snapshot: () => holder.get(),
    subscribe: (fn) => holder.subscribe(fn),
    reload,
    close: async () => {
      closed = true;
      unsubscribe();
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
