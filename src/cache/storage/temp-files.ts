/**
 * Temp files of the file cache's atomic writes: their unique names, and the cleanup of ones a
 * crashed process left behind. A temp file lives next to its target (same directory, so the
 * rename that publishes it is atomic) and is named `<target>.<pid>-<seq>-<random>.tmp`.
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

/** Our temp names and MapProxy's (`<target>.tmp-<random>`), both left only by crashed writers. */
const TEMP_NAME = /(\.\d+-\d+-[0-9a-f]+\.tmp|\.tmp-\d+)$/;

/** True for errors meaning "no such file": ENOENT, or ENOTDIR when a path part is a file. */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Removes leftover temp files of interrupted tile writes under `dir` (recursively) that are older
 * than `maxAgeMs` (default one minute — far longer than any write takes). A missing `dir` is
 * fine. Resolves to the number of files removed.
 */
export async function cleanTempFiles(dir: string, maxAgeMs = 60_000): Promise<number> {
  const limit = Date.now() - maxAgeMs;
  let removed = 0;
  const walk = async (d: string): Promise<void> => {
    let handle;
    try {
      handle = await opendir(d);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for await (const entry of handle) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) {
        await walk(p);
      } else if (entry.isFile() && TEMP_NAME.test(entry.name)) {
        try {
          if ((await lstat(p)).mtimeMs < limit) {
            await unlink(p);
            removed++;
          }
        } catch (err) {
          // Its writer finished (renamed it) or another cleanup got there first.
          if (!isMissing(err)) throw err;
        }
      }
    }
  };
  await walk(dir);
  return removed;
}
