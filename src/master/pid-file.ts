/**
 * The master's pid file (`serve --pid-file`): written once the configuration is known to be good,
 * refused when it names another live process (a second master would fight over the port and
 * the file), removed on exit only while it still names this process.
 *
 * A master killed outright (SIGKILL, the OOM killer, a power cut) leaves its file behind, and the
 * kernel may give its pid to another process later. On Linux such a file is recognised as stale
 * when the process it names is not mapproxy-ts (its command line does not say so) and started
 * after the file was written, so it cannot have written it. Both must hold: start times come
 * from the wall clock, which a clock step (NTP at boot) moves for every process, so a live
 * master could look younger than its file; and a master started some unusual way might not show
 * its name.
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
/** /proc/stat's boot time has whole seconds, and the file system's clock may differ a little. */
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

/** Whether process `pid`'s command line names mapproxy-ts; undefined where it cannot be read. */
async function namesMapproxyTs(pid: number): Promise<boolean | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'latin1')).includes('mapproxy-ts');
  } catch {
    return undefined;
  }
}

/**
 * Whether the live process `pid` may be the master that wrote `file`: unless it is, by its
 * command line, something else that started after the file was written.
 */
async function mayHaveWritten(pid: number, file: string): Promise<boolean> {
  if ((await namesMapproxyTs(pid)) !== false) return true;
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
 * Write this process's pid to `file`; a stale file (its process is dead, or is not mapproxy-ts
 * and started after the file was written) is replaced.
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
