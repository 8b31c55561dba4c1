/**
 * Log files rotated by pino-roll (by size and/or time), one series of files per PROCESS.
 *
 * Why one file per process and not the master as the only writer: a rotating writer must be the
 * only one appending to its file (two pino-roll instances on one file would each rename and
 * reopen it on their own schedule and lose or mix lines). Funnelling every worker's lines through
 * the master would cost an IPC message or pipe copy per line on the request path and make the
 * master a bottleneck; instead each process writes its own files, synchronously, with no
 * coordination on the hot path.
 *
 * Naming: the configured `path` `/var/log/mapproxy-ts/mapproxy.log` becomes
 * `/var/log/mapproxy-ts/mapproxy-<slot>.<n>.log`: `<slot>` is the lowest number no other live
 * process holds for that path (0 is usually the master, 1…N the workers), `<n>` pino-roll's
 * rotation counter. A slot is held by binding a Linux abstract Unix socket named after the path
 * and the slot: the kernel gives it to exactly one process and frees it when that process dies,
 * even by SIGKILL, so a slot goes to the next process that starts once its holder is gone and the
 * number of file series stays bounded by the number of processes alive at once. (Elsewhere than
 * Linux the slot is the process id.) The log directory must be local to the host, like lock_dir.
 */
import { createHash } from 'node:crypto';
import { readdir, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileError } from '../errors.js';
import type { OwnedDestination } from './logger.js';

/** Where and how to write log files (absolute `path`). */
export interface LogFileOptions {
  /** The configured file, e.g. `/var/log/mapproxy-ts/mapproxy.log`; see the module comment. */
  readonly path: string;
  /** Roll when a file reaches this size: `500k`, `10m`, `1g`. */
  readonly size?: string;
  /** Roll `daily`, `hourly`, or every N milliseconds. */
  readonly frequency?: 'daily' | 'hourly' | number;
  /** Keep this many rolled files per process besides the current one. */
  readonly limit?: { readonly count: number };
}

/** An open, rotating log file of this process. */
export interface LogFile extends OwnedDestination {
  /** This process's slot for the path. */
  readonly slot: number;
  /** The options it was opened with. */
  readonly options: LogFileOptions;
  /** The file written now (`…/mapproxy-0.3.log`). */
  currentFile(): string;
}

interface RollStream {
  readonly file: string;
  write(data: string): boolean;
  end(): void;
  on(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'close', fn: () => void): unknown;
  readonly destroyed: boolean;
}
type PinoRoll = (opts: Record<string, unknown>) => Promise<RollStream>;
let pinoRollModule: PinoRoll | undefined;
/**
 * pino-roll, loaded by the first log file: it pulls in date-fns (some 600 modules, about 3 MiB
 * of heap), which a worker logging to stdout only never needs.
 */
function pinoRoll(opts: Record<string, unknown>): Promise<RollStream> {
  pinoRollModule ??= createRequire(import.meta.url)('pino-roll') as PinoRoll;
  return pinoRollModule(opts);
}

/** Slots tried before giving up (far more processes than any host runs for one log path). */
const MAX_SLOTS = 1024;

/**
 * The pino-roll base of `file` for `slot`: `<dir>/<stem>-<slot>.<ext>`; pino-roll inserts its
 * counter before the extension. A missing or one-letter extension becomes `.log`.
 */
export function slotFileName(file: string, slot: number): string {
  const dir = path.dirname(file);
  const ext = path.extname(file);
  const [stem, suffix] = ext.length >= 3 ? [path.basename(file, ext), ext] : [path.basename(file), '.log'];
  return path.join(dir, `${stem}-${slot}${suffix}`);
}

/** Hold the lowest free slot for `key` (see the module comment); `release` frees it. */
export async function claimSlot(key: string): Promise<{ slot: number; release(): Promise<void> }> {
  if (process.platform !== 'linux') return { slot: process.pid, release: async () => undefined };
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32);
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const server = net.createServer((socket) => socket.destroy());
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
      // exclusive: in a cluster worker, bind here instead of sharing the master's handle.
      server.listen({ path: `\0mapproxy-ts-log-${hash}-${slot}`, exclusive: true }, () => resolve(true));
    });
    if (bound) {
      server.unref();
      server.on('error', () => undefined);
      return { slot, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    }
  }
  throw new Error(`no free log file slot for ${key} (${MAX_SLOTS} processes hold one)`);
}

/**
 * Remove the files of `slot`'s series beyond the `keep` newest, never `current`. pino-roll prunes
 * only when it rolls, and it numbers a new process's first file after the highest number of ANY
 * series in the directory (its scan does not look at the name), so a process that restarts
 * starts a file of its own each time: without this, restarts between two rolls pile files up.
 */
export async function pruneSlotFiles(file: string, slot: number, keep: number, current: string): Promise<string[]> {
  const base = path.basename(slotFileName(file, slot));
  const dot = base.lastIndexOf('.');
  const [stem, suffix] = [base.slice(0, dot), base.slice(dot)];
  const dir = path.dirname(file);
  const numbered: Array<{ name: string; n: number }> = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(`${stem}.`) || !name.endsWith(suffix) || name === path.basename(current)) continue;
    const n = name.slice(stem.length + 1, name.length - suffix.length);
    if (/^\d+$/.test(n)) numbered.push({ name, n: Number(n) });
  }
  numbered.sort((a, b) => b.n - a.n);
  const removed: string[] = [];
  for (const { name } of numbered.slice(keep)) {
    try {
      await unlink(path.join(dir, name));
      removed.push(name);
    } catch {
      // Gone already (pino-roll's own pruning, or by hand).
    }
  }
  return removed;
}

/**
 * Open this process's rotating log file for `opts.path`: claims a slot, creates the directory,
 * and starts writing where pino-roll's numbering says (see `pruneSlotFiles`); with `limit`,
 * older files of the slot beyond it are removed at once. Writes are synchronous (a line is on disk,
 * in the page cache, before the call returns, so nothing is lost when the process exits).
 */
export async function openLogFile(opts: LogFileOptions): Promise<LogFile> {
  const file = path.resolve(opts.path);
  const { slot, release } = await claimSlot(file);
  let stream: RollStream;
  try {
    stream = await pinoRoll({
      file: slotFileName(file, slot),
      size: opts.size,
      frequency: opts.frequency,
      // removeOtherLogFiles: also prune files of this slot left by an earlier process. In that mode
      // pino-roll 4 keeps `count` files in all, the current one included, hence the +1.
      limit: opts.limit ? { count: opts.limit.count + 1, removeOtherLogFiles: true } : undefined,
      mkdir: true,
      sync: true,
    });
  } catch (err) {
    await release();
    throw fileError('open the log file', file, err);
  }
  // The current file counts as one of `count + 1`, as in pino-roll's own pruning.
  if (opts.limit) await pruneSlotFiles(file, slot, opts.limit.count, stream.file).catch(() => undefined);
  let reported = false;
  stream.on('error', (err) => {
    // A full disk or a removed directory must not crash the server; say so once.
    if (!reported) process.stderr.write(`mapproxy-ts: cannot write log file ${stream.file}: ${err.message}\n`);
    reported = true;
  });
  let closing: Promise<void> | undefined;
  return {
    slot,
    options: opts,
    currentFile: () => stream.file,
    write: (line: string) => void stream.write(line),
    close() {
      closing ??= (async () => {
        if (!stream.destroyed) {
          const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
          stream.end();
          await closed;
        }
        await release();
      })();
      return closing;
    },
  };
}
