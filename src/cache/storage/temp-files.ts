/**
 * Temp files of the file cache's atomic writes: their unique names, and the removal of those a
 * killed process left of the tiles of one meta tile. A temp file lives next to its target (same
 * directory, so the rename that publishes it is atomic) and is named
 * `<target>.<pid>-<seq>-<random>.tmp`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, opendir, unlink } from 'node:fs/promises';
import path from 'node:path';

let seq = 0;
/** Per-process random part: pids repeat across hosts that share a cache on NFS. */
const processTag = randomBytes(3).toString('hex');

/** A suffix unique per process and call: `.<pid>-<seq>-<random>.tmp`. */
export function tempSuffix(): string {
  seq = (seq + 1) % Number.MAX_SAFE_INTEGER;
  return `.${process.pid}-${seq}-${processTag}${randomBytes(2).toString('hex')}.tmp`;
}

/** What follows a target's name in our temp names and MapProxy's (`<target>.tmp-<random>`). */
const TEMP_SUFFIX = /^(\.\d+-\d+-[0-9a-f]+\.tmp|\.tmp-\d+)$/;

/** True for errors meaning "no such file": ENOENT, or ENOTDIR when a path part is a file. */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Removes the temp files of `targets` (tile files) older than `minAgeMs`: what a writer killed
 * between creating a temp file and renaming it left of exactly these tiles (files, or symlinks of
 * single-colour tiles). The TileManager calls it after taking over the lock of a dead holder. It
 * reads the directories of these tiles only, entry by entry (with the `quadkey` layout that is the
 * cache's root, so it can take a while: the caller does not wait for it). Other files of those
 * directories (other tiles, their temp files, names that merely start alike) are left alone.
 * Missing directories are fine. Resolves to the number of files removed.
 */
export async function removeTempFilesOf(targets: readonly string[], minAgeMs: number): Promise<number> {
  const byDir = new Map<string, Set<string>>();
  for (const t of targets) {
    const dir = path.dirname(t);
    const names = byDir.get(dir) ?? new Set<string>();
    names.add(path.basename(t));
    byDir.set(dir, names);
  }
  const limit = Date.now() - minAgeMs;
  let removed = 0;
  for (const [dir, names] of byDir) removed += await sweep(dir, (name) => names.has(name), limit);
  return removed;
}

/**
 * Removes the temp files in `dir` older than `minAgeMs` whose target name passes `isTarget`: for
 * a directory of few files whose targets are not known one by one (the shared single-colour
 * tiles). Resolves to the number of files removed; a missing directory is fine.
 */
export function removeTempFilesIn(dir: string, isTarget: (name: string) => boolean, minAgeMs: number): Promise<number> {
  return sweep(dir, isTarget, Date.now() - minAgeMs);
}

/** Removes the temp files of targets passing `isTarget` in `dir` last changed before `limit` (ms). */
async function sweep(dir: string, isTarget: (name: string) => boolean, limit: number): Promise<number> {
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
  let removed = 0;
  for await (const entry of handle) {
    if (!entry.name.includes('.tmp') || !isTempOf(entry.name, isTarget)) continue;
    const p = path.join(dir, entry.name);
    try {
      const st = await lstat(p);
      if (!(st.isFile() || st.isSymbolicLink()) || st.mtimeMs >= limit) continue;
      await unlink(p);
      removed++;
    } catch (err) {
      // Renamed by its writer or removed by another sweep meanwhile.
      if (!isMissing(err)) throw err;
    }
  }
  return removed;
}

/** True when `entry` is a target's name (one passing `isTarget`) followed by a temp suffix (ours or MapProxy's). */
function isTempOf(entry: string, isTarget: (name: string) => boolean): boolean {
  // The target's name ends at one of the dots (`080.png` + `.4711-3-a1b2c3d4e5.tmp`).
  for (let i = entry.indexOf('.'); i > 0; i = entry.indexOf('.', i + 1)) {
    if (isTarget(entry.slice(0, i)) && TEMP_SUFFIX.test(entry.slice(i))) return true;
  }
  return false;
}
