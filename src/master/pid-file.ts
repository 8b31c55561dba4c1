/**
 * The master's pid file (`serve --pid-file`): written once the configuration is known to be good,
 * refused when it names another live process (a second master would fight over the port and
 * the file), removed on exit only while it still names this process.
 *
 * A master killed outright (SIGKILL, the OOM killer, a power cut) leaves its file behind, and the
 * kernel may give its pid to another process later. On Linux such a file is recognised as stale:
 * the process it names started after the file was written, so it cannot have written it.
 */
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
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

/** /proc reports process start times in USER_HZ ticks, 100 per second on every Linux ABI. */
const USER_HZ = 100;
/** /proc/stat's boot time has whole seconds: a start time read from it may be late by up to 1 s. */
const START_SLACK_MS = 2000;

/**
 * When process `pid` started (ms since the epoch), from /proc; undefined where there is no /proc
 * or the process is gone.
 */
export async function processStartMs(pid: number): Promise<number | undefined> {
  try {
    const [statLine, bootStat] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile('/proc/stat', 'utf8')]);
    // Fields after the command name, which is in parentheses and may hold spaces or ')'.
    const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22, starttime
    const btime = /^btime (\d+)$/m.exec(bootStat);
    if (!Number.isFinite(ticks) || btime === null) return undefined;
    return Number(btime[1]) * 1000 + (ticks * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Whether the live process `pid` may have written `file`: it started before the file was written. */
async function mayHaveWritten(pid: number, file: string): Promise<boolean> {
  const started = await processStartMs(pid);
  if (started === undefined) return true;
  try {
    return started <= (await stat(file)).mtimeMs + START_SLACK_MS;
  } catch {
    return true;
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

/**
 * Write this process's pid to `file`; a stale file (its process is dead, or started after the
 * file was written) is replaced.
 */
export async function writePidFile(file: string): Promise<void> {
  let old: number | null;
  try {
    old = await readPid(file);
  } catch (err) {
    throw fileError('read the pid file', file, err);
  }
  if (old !== null && old !== process.pid && isAlive(old) && (await mayHaveWritten(old, file))) throw new PidFileInUseError(file, old);
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
