/**
 * Where the CA's material lives between restarts: an identity directory (embedded mode, and
 * what a mounted Secret looks like) or Kubernetes Secrets and a ConfigMap (kube-store.ts).
 * The CA reads a store whole, checks it (material.ts) and writes back only what it made itself:
 * a new issuer, or a new bundle during an anchor rotation. A write names the version it read, so
 * two replicas never both replace the issuer: the second finds the store changed and re-reads.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirNames, FILES, readIdentityDir } from './ca';
import type { MaterialNames, MaterialText } from './material';
import type { RotationRecord } from './anchor-plan';
import { rm } from 'node:fs/promises';

export interface StoreSnapshot {
  text: MaterialText;
  /** Opaque; changes whenever any part changes. */
  version: string;
}

export interface IdentityStore {
  readonly kind: 'dir' | 'kubernetes';
  /** Human names of each part, for messages. */
  readonly names: MaterialNames;
  read(): Promise<StoreSnapshot>;
  /** Replaces the issuer if the store is still at `version`; false: someone else wrote first. */
  writeIssuer(issuerPem: string, issuerKeyPem: string, version: string): Promise<boolean>;
  /** The anchor rotation in progress (rotate-anchor's record), if any. */
  readRotation(): Promise<RotationRecord | undefined>;
  writeRotation(r: RotationRecord | undefined): Promise<void>;
  /** Replaces the trust bundle (and the signing anchor, when given) if the store is still at `version`. */
  writeBundle(bundlePem: string, anchor: { certPem: string; keyPem: string } | undefined, version: string): Promise<boolean>;
}

export function textVersion(t: MaterialText): string {
  const h = createHash('sha256');
  for (const part of [t.bundlePem, t.issuerPem, t.issuerKeyPem, t.anchorKeyPem ?? '']) h.update(part).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Writes through a temporary file and rename, so a reader sees the old file or the new one. */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

/** rotate-anchor's record in an identity directory (it holds the new anchor's key: 0600). */
export const ROTATION_FILE = 'rotation.json';

/**
 * An identity directory: ca.crt (the bundle), ca.key (optional), issuer.crt, issuer.key. The
 * version is a hash of the contents, so an edit by any tool is noticed on the next read.
 */
export function dirStore(dir: string): IdentityStore {
  return {
    kind: 'dir',
    names: dirNames(dir),
    async read() {
      const text = await readIdentityDir(dir);
      return { text, version: textVersion(text) };
    },
    async writeIssuer(issuerPem, issuerKeyPem, version) {
      if ((await this.read()).version !== version) return false;
      // The key first: a reader between the two renames sees a key that fits no certificate and
      // refuses it (keeping the running issuer) rather than signing with a mismatched pair.
      await replaceFile(join(dir, FILES.issuerKey), issuerKeyPem, 0o600);
      await replaceFile(join(dir, FILES.issuer), issuerPem, 0o644);
      return true;
    },
    async readRotation() {
      const t = await readIfPresent(join(dir, ROTATION_FILE));
      return t ? (JSON.parse(t) as RotationRecord) : undefined;
    },
    async writeRotation(r) {
      if (r === undefined) await rm(join(dir, ROTATION_FILE), { force: true });
      else await replaceFile(join(dir, ROTATION_FILE), JSON.stringify(r, null, 2) + '\n', 0o600);
    },
    async writeBundle(bundlePem, anchor, version) {
      if ((await this.read()).version !== version) return false;
      // ca.crt is the bundle here; the key alone says which anchor signs.
      if (anchor !== undefined) await replaceFile(join(dir, FILES.anchorKey), anchor.keyPem, 0o600);
      await replaceFile(join(dir, FILES.anchor), bundlePem, 0o644);
      return true;
    },
  };
}

/** Reads a file if present (rotation state files). */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
