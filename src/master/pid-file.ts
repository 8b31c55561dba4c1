/**
 * The master's pid file (`serve --pid-file`): written once the configuration is known to be good,
 * refused when it names another live process (a second master would fight over the port and
 * the file), removed on exit only while it still names this process.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { fileError } from '../errors.js';

/** A live process holds the pid file. */
export class PidFileInUseError extends Error {
  readonly code = 'MPX_ERR_PID_FILE_IN_USE';
  constructor(readonly file: string, readonly pid: number) {
    super(`pid file ${file} names the running process ${pid}; is mapproxy-ts already running? (remove the file if not)`);
  }
}

async function readPid(file: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Write this process's pid to `file`; a stale file (dead pid) is replaced. */
export async function writePidFile(file: string): Promise<void> {
  let old: number | null;
  try {
    old = await readPid(file);
  } catch (err) {
    throw fileError('read the pid file', file, err);
  }
  if (old !== null && old !== process.pid && isAlive(old)) throw new PidFileInUseError(file, old);
  try {
    await writeFile(file, `${process.pid}\n`);
  } catch (err) {
    throw fileError('write the pid file', file, err);
  }
}

/** Remove `file` if it still names this process. Never throws. */
export async function removePidFile(file: string): Promise<void> {
  try {
    if ((await readPid(file)) === process.pid) await unlink(file);
  } catch {
    // Nothing to do: the file is gone or was taken over.
  }
}
