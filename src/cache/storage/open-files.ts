/**
 * The open-file level of the file cache's hit path (`globals.cache.memory_tier.open_files`): the
 * files of recently served tiles stay open, so a hit costs one positioned read instead of open,
 * fstat, read and close (four thread-pool round trips), and no memory beyond the kernel's page
 * cache. The same idea as nginx's `open_file_cache`.
 *
 * Freshness: an entry is trusted for `revalidateMs` after it was last checked; then one stat of
 * the path compares inode, size and mtime. Tiles are replaced by rename, so an open file keeps the
 * bytes it had: a tile rewritten by another process is served at most `revalidateMs` late, as
 * from the memory tier. A removed tile's disk space stays taken while its file is open here:
 * entries unused for `inactiveMs` are closed, so at most that long after its last hit.
 *
 * An fd is never closed while a read on it is in flight (the number could be reused by the next
 * open and the read would return another file's bytes): eviction only marks the entry, and the
 * last reader closes it.
 */
import fs from 'node:fs';
import type { HeldFile, ReadBuffer } from '../types.js';

/** Settings of the open-file level. */
export interface OpenFilesOptions {
  /** Most files kept open (0 disables the level). */
  readonly max: number;
  /** How long an entry is used without a stat of its path (ms). */
  readonly revalidateMs: number;
  /** Entries not used for this long are closed (ms); default 60 s, nginx's `inactive`. */
  readonly inactiveMs?: number;
}

/** One open tile file. */
export interface OpenFile {
  readonly fd: number;
  readonly size: number;
  /** Stat fields the entry is validated against (of the link itself for symlinked tiles). */
  readonly statMtime: number;
  readonly statSize: number;
  readonly ino: number;
  /** The tile's timestamp as storage reports it (ms). */
  readonly mtime: number;
  /** The same as Python's st_mtime (see `StoredTile.mtimeSec`). */
  readonly mtimeSec?: number;
  /** When the path was last opened or confirmed by a stat (ms since the epoch). */
  checked: number;
  /** Last use (ms since the epoch), for the inactivity sweep. */
  used: number;
  /** When the entry last moved to the most recently used end (ms since the epoch). */
  moved: number;
  /** The level's count of added files at that move. */
  movedAt: number;
  /** Reads in flight on `fd`. */
  readers: number;
  /** Out of the cache: closed by the last reader. */
  evicted: boolean;
  /** How the storage hands this file out (`StoredTile.file`), made on first need. */
  handle?: HeldFile;
}

const DEFAULT_INACTIVE_MS = 60_000;
/** How often at most an entry in use moves to the most recently used end (see `touch`). */
export const REORDER_MS = 1000;

/** A count-bounded LRU of open tile files. */
export class OpenFiles {
  readonly max: number;
  readonly revalidateMs: number;
  readonly inactiveMs: number;
  readonly #entries = new Map<string, OpenFile>();
  /** Files added so far (see `touch`). */
  #adds = 0;
  #sweeper: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: OpenFilesOptions) {
    levels.add(this);
    // Read the descriptor limit now (a synchronous read of /proc), never on a hit.
    processOpenFilesCap();
    this.max = Math.max(0, Math.floor(opts.max));
    this.revalidateMs = Math.max(0, opts.revalidateMs);
    this.inactiveMs = Math.max(1000, opts.inactiveMs ?? DEFAULT_INACTIVE_MS);
  }

  /** The entry for `path` (made most recently used), or undefined. */
  get(path: string): OpenFile | undefined {
    const e = this.#entries.get(path);
    if (e === undefined) return undefined;
    this.touch(path, e);
    return e;
  }

  /**
   * Mark `e` (the entry of `path`) used now and most recently used, as `get` does. An entry moves
   * at most once per `REORDER_MS`: a Map keeps a deleted key's slot until it rebuilds its table,
   * so moving on every hit made a new table (large-object garbage, 256 KiB for 4096 files) every
   * few thousand hits. The order is then exact to within that time, against `inactiveMs` and
   * eviction.
   */
  touch(path: string, e: OpenFile): void {
    const now = Date.now();
    e.used = now;
    // Also sooner when a quarter of `max` files were added since: a hot file is never the oldest
    // when many new ones come in within the second.
    if ((now - e.moved < REORDER_MS && this.#adds - e.movedAt <= this.max / 4) || this.#entries.get(path) !== e) return;
    e.moved = now;
    e.movedAt = this.#adds;
    this.#entries.delete(path);
    this.#entries.set(path, e);
  }

  /**
   * Keep `fd` open for `path` (this object now owns it and closes it), evicting the least recently
   * used entries beyond `max`; the entry kept. After `close()`, or with `max` 0, the fd is closed
   * at once and nothing is kept.
   */
  add(path: string, file: Omit<OpenFile, 'used' | 'moved' | 'movedAt' | 'readers' | 'evicted' | 'handle'>): OpenFile | undefined {
    if (this.#closed || this.max === 0) {
      fs.close(file.fd, () => undefined);
      return undefined;
    }
    this.delete(path);
    // The process-wide bound first (all configurations of a MultiMapProxy share the descriptors):
    // the level keeping the most files lets go of its oldest, so busy levels share the bound.
    if (budget.open >= processOpenFilesCap()) {
      const largest = largestLevel();
      if (largest === undefined || !largest.#dropOldest()) {
        fs.close(file.fd, () => undefined);
        return undefined;
      }
    }
    const now = Date.now();
    // Every field named, in one order: all entries share one object shape.
    const entry: OpenFile = {
      fd: file.fd,
      size: file.size,
      statMtime: file.statMtime,
      statSize: file.statSize,
      ino: file.ino,
      mtime: file.mtime,
      mtimeSec: file.mtimeSec,
      checked: file.checked,
      used: now,
      moved: now,
      movedAt: ++this.#adds,
      readers: 0,
      evicted: false,
      handle: undefined,
    };
    this.#entries.set(path, entry);
    budget.open++;
    for (const [k, old] of this.#entries) {
      if (this.#entries.size <= this.max) break;
      this.#entries.delete(k);
      release(old);
    }
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.ceil(this.inactiveMs / 2)).unref();
    return entry;
  }

  /** Forget `path` and close its file; with `only`, only when that is still the entry of `path`. */
  delete(path: string, only?: OpenFile): void {
    const e = this.#entries.get(path);
    if (e === undefined || (only !== undefined && e !== only)) return;
    this.#entries.delete(path);
    release(e);
  }

  /** Let go of the least recently used file; false when none is kept. */
  #dropOldest(): boolean {
    const oldest = this.#entries.keys().next();
    if (oldest.done === true) return false;
    this.delete(oldest.value);
    return true;
  }

  /**
   * Close the least recently used half (after EMFILE: this process needs the descriptors). `done`
   * runs once those descriptors are closed (closing goes through the thread pool: an open tried
   * before that would fail again); files a reader is still reading are closed by their last
   * reader, not waited for.
   */
  shrink(done: () => void): void {
    let n = Math.ceil(this.#entries.size / 2);
    let pending = 1;
    const closed = (): void => {
      if (--pending === 0) done();
    };
    for (const [k, e] of this.#entries) {
      if (n-- <= 0) break;
      this.#entries.delete(k);
      if (release(e, true)) {
        pending++;
        fs.close(e.fd, closed);
      }
    }
    closed();
  }

  /**
   * The whole file, read at offset 0 with one pread (one trip through the thread pool). Null when
   * the entry was let go of meanwhile, or when the file no longer has the entry's size (rewritten
   * in place, which a tile writer does not do; a same-size rewrite in place goes unnoticed until
   * the next check of the path): the caller drops the entry and reads the path again. A callback,
   * not a promise: this is every hit's read. With `into`, into a buffer it lends when it does.
   */
  read(e: OpenFile, done: (err: Error | null, data: Buffer | null, lent: boolean) => void, into?: ReadBuffer): void {
    // Evicted means closed, or closed by the last reader: its number may be another file's now.
    if (e.evicted) {
      done(null, null, false);
      return;
    }
    // One byte more than the entry's size: a file rewritten in place (cp, rsync --inplace) that
    // grew or shrank is noticed here, not sent cut to the old length under the old ETag.
    const loan = into?.take(e.size + 1);
    const buf = loan ?? Buffer.allocUnsafe(e.size + 1);
    // Counted once nothing can throw before the read is under way (the last reader closes).
    e.readers++;
    fs.read(e.fd, buf, 0, e.size + 1, 0, (err, n) => {
      e.readers--;
      if (e.evicted && e.readers === 0) fs.close(e.fd, () => undefined);
      if (err || n !== e.size) {
        if (loan !== undefined) into?.give(loan, true);
        done(err, null, false);
      } else {
        done(null, buf.subarray(0, n), loan !== undefined);
      }
    });
  }

  /**
   * `read` done at once, on the calling thread, into `into` (the view of it holding the file), or
   * undefined when the entry was let go of, the read failed, or the file no longer has the
   * entry's size: `read` then answers (and drops the entry when it must). Only for files whose
   * reads do not wait on a network (the caller decides): a read of a file in the page cache costs
   * a copy, without the thread pool's two thread switches.
   */
  readNow(e: OpenFile, into: Buffer): Buffer | undefined {
    if (e.evicted || into.length < e.size + 1) return undefined;
    let n: number;
    try {
      n = fs.readSync(e.fd, into, 0, e.size + 1, 0);
    } catch {
      return undefined;
    }
    return n === e.size ? into.subarray(0, n) : undefined;
  }

  /** Close every file; later `add`s close at once. */
  close(): void {
    levels.delete(this);
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const e of this.#entries.values()) release(e);
    this.#entries.clear();
  }

  /** Files open now. */
  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const limit = Date.now() - this.inactiveMs;
    // Oldest first: stop at the first entry used since the limit (entries after it were used
    // since the limit less REORDER_MS at least: at most that much later than due).
    for (const [k, e] of this.#entries) {
      if (e.used > limit) break;
      this.#entries.delete(k);
      release(e);
    }
  }
}

/** The OpenFiles of this process keeping the most files (of any configuration of a MultiMapProxy). */
function largestLevel(): OpenFiles | undefined {
  let largest: OpenFiles | undefined;
  for (const level of levels) if (largest === undefined || level.size > largest.size) largest = level;
  return largest;
}

/**
 * After EMFILE/ENFILE: the level keeping the most files closes its least recently used half;
 * `done` once they are closed. False (and `done` not called) when no tile file is kept open.
 */
export function giveBackDescriptors(done: () => void): boolean {
  const largest = largestLevel();
  if (largest === undefined || largest.size === 0) return false;
  largest.shrink(done);
  return true;
}

/**
 * Let go of `e`: closed now when nobody reads it, else by its last reader. With `callerCloses`
 * the caller closes it instead (and true says it must).
 */
function release(e: OpenFile, callerCloses = false): boolean {
  if (e.evicted) return false;
  e.evicted = true;
  budget.open--;
  if (e.readers !== 0) return false;
  if (!callerCloses) fs.close(e.fd, () => undefined);
  return true;
}

/** Tile files kept open by every OpenFiles of this process, against `processOpenFilesCap`. */
const budget = { open: 0, cap: undefined as number | undefined };
/** Every OpenFiles of this process not closed yet. */
const levels = new Set<OpenFiles>();

/**
 * The most tile files all OpenFiles of this process keep open together: half the descriptor limit
 * (`openFilesWithin`), read once.
 */
export function processOpenFilesCap(): number {
  budget.cap ??= openFilesWithin(Number.POSITIVE_INFINITY, descriptorLimit());
  return budget.cap;
}

/**
 * The process's soft limit of open descriptors (`Max open files` of /proc/self/limits; Node
 * raises it to the hard limit at start), or null where that file does not exist.
 */
export function descriptorLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (m === null) return null;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/**
 * How many tile files to keep open when `requested` are asked for: at most half the descriptor
 * limit, so sockets, logs, upstream connections and the tiles being written always have the rest.
 * Tile files taking every descriptor would make the listening socket drop new connections, which
 * the EMFILE fallback of a tile read cannot see.
 */
export function openFilesWithin(requested: number, limit: number | null): number {
  if (limit === null) return requested;
  return Math.max(0, Math.min(requested, Math.floor(limit / 2)));
}

/**
 * Descriptors this process has open now (the entries of /proc/self/fd, less the one reading it),
 * or null where that directory does not exist.
 */
export function openDescriptors(): number | null {
  try {
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

/**
 * How many client connections a worker takes at once: the half of the descriptor limit that tile
 * files leave, less what the process holds already when it starts to listen (`open`: Node's own
 * descriptors, logs; about 25) and a reserve for upstream connections, locks and tile writes (an
 * eighth of the limit, at most 64), and at least 16. A worker out of descriptors cannot take a
 * connection node:cluster hands it, and node:cluster then hands it none again (the master
 * replaces it, src/master/master.ts); past this bound the worker closes a new connection at once
 * instead. Infinity when the limit is unknown or unlimited.
 */
export function connectionsWithin(limit: number | null, open: number | null = 0): number {
  if (limit === null || !Number.isFinite(limit)) return Number.POSITIVE_INFINITY;
  return Math.max(16, Math.floor(limit / 2) - Math.min(64, Math.floor(limit / 8)) - (open ?? 0));
}
