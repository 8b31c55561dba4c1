/**
 * Readiness of a serving process for `/readyz`: a process-wide flag the worker flips (not ready
 * while it starts and once it drains) and a check that the cache and lock directories can be
 * written. Liveness (`/healthz`) needs nothing: answering at all is the proof.
 */
import { stat, access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileErrorReason } from '../errors.js';

let ready = true;

/**
 * Mark this process ready (`true`) or not (`false`: starting, draining). A process that never
 * calls it is ready as soon as its app exists: `createApp` resolves only with the config loaded.
 */
export function setReady(value: boolean): void {
  ready = value;
}

/** The flag of `setReady`. */
export function isReady(): boolean {
  return ready;
}

/**
 * Whether a tile could be written under `dir`: it is a directory we may write to, or it does not
 * exist yet and its nearest existing ancestor is (caches create their directories on demand).
 */
export async function isWritableDir(dir: string): Promise<boolean> {
  return (await whyNotWritable(dir)) === undefined;
}

/**
 * Why a tile could not be written under `dir` (see `isWritableDir`), naming the directory that
 * decides it: `/var/cache/mpx: permission denied (EACCES)`; undefined when it could.
 */
export async function whyNotWritable(dir: string): Promise<string | undefined> {
  for (let d = dir; ; ) {
    try {
      const st = await stat(d);
      if (!st.isDirectory()) return `${d}: not a directory`;
      await access(d, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${d}: ${fileErrorReason(err)}`;
      const parent = dirname(d);
      if (parent === d) return `${d}: ${fileErrorReason(err)}`;
      d = parent;
    }
  }
}

/** `whyNotWritable` of each directory of `dirs` that cannot be written, in order. */
export async function notWritable(dirs: readonly string[]): Promise<string[]> {
  const results = await Promise.all(dirs.map((d) => whyNotWritable(d)));
  return results.filter((r): r is string => r !== undefined);
}

/** The part of a built configuration readiness looks at (structural, like `BuiltConfig`). */
export interface CacheDirsSource {
  readonly caches: ReadonlyMap<string, {
    readonly managers: ReadonlyMap<string, { readonly options: { readonly storage: unknown; readonly lockDir: string } }>;
  }>;
}

/**
 * The directories a configuration writes tiles and locks to: every file cache's directory and
 * every meta tile lock directory, without duplicates.
 */
export function cacheDirsOf(config: CacheDirsSource): string[] {
  const dirs = new Set<string>();
  for (const cache of config.caches.values()) {
    for (const tm of cache.managers.values()) {
      const dir = (tm.options.storage as { directory?: unknown } | null)?.directory;
      if (typeof dir === 'string') dirs.add(dir);
      dirs.add(tm.options.lockDir);
    }
  }
  return [...dirs];
}
