/**
 * Locks that make a meta tile be created once across processes and hosts: one lock per meta tile
 * named `<tile_lock_dir>/<lock_cache_id>-<x>-<y>-<z>.lck` (MapProxy's name, REFERENCE.md §2.7) and
 * held as the directory `<that name>.lock` (proper-lockfile's convention), polled
 * until a timeout, taken over when its holder died; plus `SingleFlight`, which does the same
 * within one process without touching the disk.
 *
 * Built on proper-lockfile: the lock is a directory created with mkdir (atomic, also on NFS) whose
 * mtime the holder refreshes; one that stopped being refreshed for `staleMs` belongs to a dead
 * process and is taken over. This is not MapProxy's flock, so a MapProxy and a mapproxy-ts
 * sharing one cache do not exclude each other (both still write tiles atomically, so the worst
 * case is a meta tile rendered twice). The `.lock` suffix keeps the two apart when they share a
 * tile_lock_dir: MapProxy flocks and deletes the plain `.lck` files, we never touch those, and it
 * never finds a directory where it expects its file.
 */
import { channel } from 'node:diagnostics_channel';
import { mkdir, opendir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { LockTimeoutError } from '../errors.js';
import type { TileCoord } from '../grid/types.js';
import { getLogger } from '../log/index.js';
import type { LockHandle, LockOptions } from './types.js';

// Looked up at use, not import: configureLogging may replace the root logger after start-up.
const log = () => getLogger('mapproxy.cache.lock');

/** Published when a lock wait times out (metrics count them). */
const lockTimeoutChannel = channel('mapproxy:cache:lock-timeout');

/** MapProxy polls its tile locks every 10 ms; a little slower costs nothing and spares the disk. */
export const DEFAULT_POLL_MS = 20;
/** proper-lockfile refuses to consider a lock stale sooner than this. */
export const MIN_STALE_MS = 2000;
/** Age of a dead lock that the every-50th sweep removes: MapProxy's `max_lock_time`, 5 minutes. */
export const LOCK_SWEEP_AGE_MS = 300_000;

/** Options of `acquireFileLock` beyond the contract's. */
export interface FileLockOptions extends LockOptions {
  /**
   * Called when a held lock was lost (taken over as stale, or its file removed). The holder keeps
   * working — tile writes are atomic, so the worst outcome is work done twice. Errors thrown by
   * the callback are logged, never raised.
   */
  readonly onCompromised?: (err: Error) => void;
}

/** Suffix of the lock directory proper-lockfile creates next to the lock's name. */
export const LOCK_SUFFIX = '.lock';

/** The lock name of a meta tile: `<dir>/<lockCacheId>-<x>-<y>-<z>.lck` (held as `<name>.lock`). */
export function lockPathFor(dir: string, lockCacheId: string, coord: TileCoord): string {
  return path.join(dir, `${lockCacheId}-${coord[0]}-${coord[1]}-${coord[2]}.lck`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A held file lock. `release` is idempotent and never rejects for a lock already lost. */
export interface FileLockHandle extends LockHandle {
  /** The lock's path. */
  readonly path: string;
  /** True once the lock was lost while held (see `FileLockOptions.onCompromised`). */
  readonly compromised: boolean;
  /**
   * True when the lock was found held by a holder that had stopped refreshing it (a process that
   * died holding it) before this one took it: whatever that holder was writing may be left over.
   * Also true, harmlessly, when such a lock was swept away just before it was taken.
   */
  readonly tookOver: boolean;
}

class FileLock implements FileLockHandle {
  readonly path: string;
  readonly tookOver: boolean;
  #release: (() => Promise<void>) | null;
  #released: Promise<void> | null = null;
  #compromised = false;

  constructor(lockPath: string, release: () => Promise<void>, tookOver: boolean) {
    this.path = lockPath;
    this.#release = release;
    this.tookOver = tookOver;
  }

  get compromised(): boolean {
    return this.#compromised;
  }

  markCompromised(): void {
    this.#compromised = true;
  }

  release(): Promise<void> {
    if (!this.#released) {
      const fn = this.#release;
      this.#release = null;
      this.#released = fn ? fn().catch((err: NodeJS.ErrnoException) => {
        // ERELEASED: lost while held (already reported). ENOENT: someone removed it.
        if (err.code !== 'ERELEASED' && err.code !== 'ENOTACQUIRED' && err.code !== 'ENOENT') {
          log().warn({ err, lockFile: this.path }, 'could not remove lock file');
        }
      }) : Promise.resolve();
    }
    return this.#released;
  }
}

function checkOptions(lockPath: string, opts: LockOptions): void {
  if (!path.isAbsolute(lockPath)) throw new RangeError(`lock path must be absolute, got ${JSON.stringify(lockPath)}`);
  if (!(opts.timeoutMs >= 0)) throw new RangeError(`lock timeoutMs must be >= 0, got ${opts.timeoutMs}`);
  if (!(opts.staleMs > 0)) throw new RangeError(`lock staleMs must be > 0, got ${opts.staleMs}`);
  if (opts.pollMs !== undefined && !(opts.pollMs > 0)) throw new RangeError(`lock pollMs must be > 0, got ${opts.pollMs}`);
}

let lockCalls = 0;

/**
 * Takes the lock at `lockPath`, waiting for another holder for up to `timeoutMs` (polling every
 * `pollMs`). A lock whose holder stopped refreshing it for `staleMs` (raised to 2 s at least) is
 * taken over. Creates the lock directory on demand.
 *
 * @param lockPath absolute path of the lock (`lockPathFor`); it need not exist
 * @throws LockTimeoutError (`MPX_ERR_LOCK_TIMEOUT`) when the lock stayed held past `timeoutMs`
 */
export async function acquireFileLock(lockPath: string, opts: FileLockOptions): Promise<FileLockHandle> {
  checkOptions(lockPath, opts);
  const staleMs = Math.max(opts.staleMs, MIN_STALE_MS);
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const deadline = Date.now() + opts.timeoutMs;
  const dir = path.dirname(lockPath);
  // MapProxy sweeps old lock files every 50th lock; here they are dirs of dead holders. Until then
  // the next taker of a dead lock learns of the death (`tookOver`) and clears its leftovers.
  if (lockCalls++ % 50 === 0) {
    cleanupLockDir(dir, Math.max(LOCK_SWEEP_AGE_MS, staleMs + 10_000, opts.timeoutMs + 10_000)).catch((err: unknown) =>
      log().debug({ err, dir }, 'lock dir cleanup failed'),
    );
  }
  let handle: FileLock | null = null;
  const onCompromised = (err: Error): void => {
    handle?.markCompromised();
    log().warn({ err, lockFile: lockPath }, 'lost a tile lock while holding it; continuing');
    try {
      opts.onCompromised?.(err);
    } catch (cbErr) {
      log().error({ err: cbErr, lockFile: lockPath }, 'onCompromised callback threw');
    }
  };
  const lockDir = `${lockPath}${LOCK_SUFFIX}`;
  const lockOpts: lockfile.LockOptions = {
    lockfilePath: lockDir,
    realpath: false,
    stale: staleMs,
    // Refresh well within the stale time so a busy event loop does not look like a dead holder.
    update: Math.max(1000, Math.min(staleMs / 4, 10_000)),
    retries: 0,
    onCompromised,
  };
  for (let madeDir = false; ; ) {
    try {
      // proper-lockfile takes a stale lock over without saying so; look first (one stat, ENOENT
      // when nobody holds it), so the taker knows to clear what the dead holder left. Half the
      // stale time, not all of it: proper-lockfile looks a moment later, and a live holder
      // refreshes its lock well within half (a lock released in between costs one needless sweep).
      const stale = await isStale(lockDir, staleMs / 2);
      const release = await lockfile.lock(lockPath, lockOpts);
      handle = new FileLock(lockPath, release, stale);
      if (stale) log().info({ lockFile: lockPath }, 'took over the lock of a holder that stopped refreshing it');
      return handle;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !madeDir) {
        await mkdir(dir, { recursive: true });
        madeDir = true;
        continue;
      }
      if (code !== 'ELOCKED') throw err;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        // The client is told only that it timed out; the operator gets the lock's path here.
        log().warn({ lockFile: lockPath, timeoutMs: opts.timeoutMs }, 'timed out waiting for a tile lock');
        if (lockTimeoutChannel.hasSubscribers) lockTimeoutChannel.publish({ lockFile: lockPath, timeoutMs: opts.timeoutMs });
        throw new LockTimeoutError(lockPath, opts.timeoutMs);
      }
      await sleep(Math.min(pollMs, remaining));
    }
  }
}

/** True when the lock directory exists and was last refreshed more than `ageMs` ago. */
async function isStale(lockDir: string, ageMs: number): Promise<boolean> {
  try {
    return (await stat(lockDir)).mtimeMs < Date.now() - ageMs;
  } catch {
    return false;
  }
}

/** Runs `fn` while holding the lock at `lockPath`; releases it however `fn` ends. */
export async function withFileLock<T>(lockPath: string, opts: FileLockOptions, fn: () => Promise<T> | T): Promise<T> {
  const lock = await acquireFileLock(lockPath, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Removes our lock directories (`*.lck.lock`) in `dir` not touched for `maxAgeMs`: locks of processes that died
 * without releasing (a live holder refreshes its lock's mtime). Resolves to the number removed.
 */
export async function cleanupLockDir(dir: string, maxAgeMs: number): Promise<number> {
  const limit = Date.now() - maxAgeMs;
  let removed = 0;
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for await (const entry of handle) {
    if (!entry.name.endsWith(`.lck${LOCK_SUFFIX}`)) continue;
    const p = path.join(dir, entry.name);
    try {
      if ((await stat(p)).mtimeMs < limit) {
        await rm(p, { recursive: true });
        removed++;
      }
    } catch (err) {
      // Released or taken over meanwhile.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/**
 * In-process single flight: concurrent `run`s with the same key share one call of `fn` and its
 * result; the key is free again once that call settled. The TileManager keys it by meta tile so a
 * burst of requests for one area makes one upstream request per process.
 */
export class SingleFlight<K, V> {
  readonly #inflight = new Map<K, Promise<V>>();

  /** Calls `fn` unless a call for `key` is running, and resolves with that call's outcome. */
  run(key: K, fn: () => Promise<V>): Promise<V> {
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = new Promise<V>((resolve) => resolve(fn())).finally(() => {
      if (this.#inflight.get(key) === p) this.#inflight.delete(key);
    });
    this.#inflight.set(key, p);
    return p;
  }

  /** Number of keys with a call running. */
  get size(): number {
    return this.#inflight.size;
  }
}
