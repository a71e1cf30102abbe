/**
 * Finds and loads the compiled addon (`linnet_native.node`) on first use, once per thread
 * (each worker thread has its own module registry; the addon is context-aware, so that is fine).
 * Any failure becomes a PlatformError with a hint, never a raw MODULE_NOT_FOUND.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PlatformError } from '../../../core/errors';

/** What the C module exports (src/linnet_native.c). */
export interface NativeBinding {
  originalDst(fd: number, family: 4 | 6): { host: string; port: number; family: 4 | 6 };
  listenReusePort(host: string, port: number, family: 4 | 6, backlog: number): number;
  closeFd(fd: number): void;
  /** 0 = supported, otherwise the errno the probe got. */
  probe(): { reusePort: number; originalDst4: number; originalDst6: number; splice: number };
  /** The kernel relay (src/splice_relay.c); see splice-lane.ts. */
  spliceInit(onDone: (id: number, errA: number, errB: number, clean: boolean) => void, pipeSize: number): void;
  spliceStart(id: number, fdA: number, fdB: number, preAB: Buffer | null, preBA: Buffer | null, counts: Float64Array): SpliceHandle;
  spliceAbort(handle: SpliceHandle, side: 0 | 1): void;
  spliceShutdown(): void;
}

/** A relay in the native addon (a Node-API external); only the addon looks inside. */
export type SpliceHandle = { readonly __spliceHandle: unique symbol };

export const ADDON_FILE = 'linnet_native.node';
const BUILD_HINT =
  'build it with `npm install` (runs node-gyp) or `npx node-gyp rebuild --directory proxy/transport/native` in the linnet package; it needs a C compiler, make and python3';

/**
 * Where the addon may be: beside the source (run with tsx) or, from the compiled
 * dist/proxy/transport/native, back in the package's proxy/transport/native/build. Release before Debug.
 */
export function addonCandidates(dir: string): string[] {
  const roots = [dir, join(dir, '..', '..', '..', '..', 'proxy', 'transport', 'native')];
  const out: string[] = [];
  for (const root of roots) for (const type of ['Release', 'Debug']) out.push(join(root, 'build', type, ADDON_FILE));
  return out;
}

export interface LoadOptions {
  platform?: NodeJS.Platform;
  candidates?: string[];
  exists?: (path: string) => boolean;
  load?: (path: string) => unknown;
}

/** Loads without caching; throws PlatformError. Exposed for tests. */
export function loadBinding(opts: LoadOptions = {}): NativeBinding {
  const platform = opts.platform ?? process.platform;
  if (platform !== 'linux') {
    throw new PlatformError(
      `the native addon needs Linux (SO_ORIGINAL_DST, SO_REUSEPORT balancing); this is ${platform}`,
      'run the proxy on Linux (a container or VM); the control plane and CLI work elsewhere',
    );
  }
  const candidates = opts.candidates ?? addonCandidates(__dirname);
  const exists = opts.exists ?? existsSync;
  const load = opts.load ?? ((p: string) => require(p) as unknown);
  const path = candidates.find((p) => exists(p));
  if (path === undefined) {
    throw new PlatformError(`the native addon ${ADDON_FILE} is not built (looked in ${candidates.join(', ')})`, BUILD_HINT);
  }
  let mod: unknown;
  try {
    mod = load(path);
  } catch (err) {
    throw new PlatformError(
      `the native addon ${path} cannot be loaded: ${(err as Error).message}`,
      `rebuild it for this Node version and architecture: ${BUILD_HINT}`,
      err,
    );
  }
  const m = mod as Partial<NativeBinding> & { unsupported?: boolean };
  if (m.unsupported) {
    throw new PlatformError(`the native addon at ${path} was built for a platform without SO_ORIGINAL_DST`, 'run the proxy on Linux');
  }
  for (const fn of ['originalDst', 'listenReusePort', 'closeFd', 'probe', 'spliceInit', 'spliceStart', 'spliceAbort', 'spliceShutdown'] as const) {
    if (typeof m[fn] !== 'function') {
      throw new PlatformError(`the native addon at ${path} lacks ${fn}(); it is stale`, `rebuild it: ${BUILD_HINT}`);
    }
  }
  return m as NativeBinding;
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first call (per thread). */
export function binding(): NativeBinding {
  if (cached === undefined) cached = loadBinding();
  return cached;
}
