/**
 * The per-process memory tier of the file cache: recently served tiles kept in memory, bounded in
 * bytes (least recently used out first), keyed by file path. It exists because a cache hit from
 * disk costs four thread-pool round trips (open, fstat, read, close) and the hit path is what a
 * tile server spends its life on.
 *
 * Freshness bound: an entry is served without touching the disk for `revalidateMs` after it was
 * last checked; then one stat compares mtime, size and inode with what was read, and a changed or
 * removed tile is read again or dropped. So a tile rewritten by another process (a reseed, a
 * refresh, another host) is served from memory for at most `revalidateMs` after the rewrite.
 * Tiles this process stores or removes are dropped from the tier at once.
 */

import fs from 'node:fs';
import type { HeldFile, HeldTile, StoredTile, TileValidators } from '../types.js';

/** Settings of the memory tier. */
export interface MemoryTierOptions {
  /** Upper bound of the tile bytes held (0 disables the tier). */
  readonly maxBytes: number;
  /** How long an entry is served without a stat of its file (ms; 0: stat on every hit). */
  readonly revalidateMs: number;
}

/** What the tier holds per tile: one version of it, as read from its file. */
export class TierEntry implements StoredTile, HeldTile {
  readonly validators: TileValidators = {};
  /** In a tier now (false once evicted, deleted or replaced). */
  live = false;
  /** The same version's file, when the storage keeps it open (`StoredTile.file`). */
  file?: HeldFile;
  #tier: MemoryTier | null = null;
  /** Callers of `revalidate` waiting for the stat in flight. */
  #waiting: Array<(fresh: boolean) => void> | null = null;

  constructor(
    /** The tile's file (the tier's key). */
    readonly path: string,
    readonly data: Buffer,
    /** The tile's timestamp as storage reports it (ms). */
    readonly mtime: number,
    /** Stat fields the entry is validated against (of the link itself for symlinked tiles). */
    readonly statMtime: number,
    readonly statSize: number,
    readonly ino: number,
    /** When the file was last read or confirmed (ms since the epoch). */
    public checked: number,
    /** Validate with lstat (the link itself: symlinked single-colour tiles), not stat. */
    readonly link = false,
    /** The same time as Python's st_mtime (see `StoredTile.mtimeSec`). */
    readonly mtimeSec?: number,
  ) {}

  get held(): HeldTile | undefined {
    return this.live ? this : undefined;
  }

  isFresh(): boolean {
    const tier = this.#tier;
    if (!this.live || tier === null || Date.now() - this.checked >= tier.revalidateMs) return false;
    tier.touch(this);
    return true;
  }

  revalidate(done: (fresh: boolean) => void): void {
    if (!this.live) {
      done(false);
      return;
    }
    if (this.#waiting !== null) {
      this.#waiting.push(done);
      return;
    }
    this.#waiting = [done];
    // Confirmed as of before the stat, as a load does: the bound never stretches.
    const started = Date.now();
    (this.link ? fs.lstat : fs.stat)(this.path, (err, st) => {
      const same = err === null && st.mtimeMs === this.statMtime && st.size === this.statSize && st.ino === this.ino;
      if (same && started > this.checked) this.checked = started;
      const waiting = this.#waiting ?? [];
      this.#waiting = null;
      const fresh = same && this.isFresh();
      for (const w of waiting) w(fresh);
    });
  }

  /** @internal the tier keeping this entry (set by `MemoryTier.set`). */
  attach(tier: MemoryTier | null): void {
    this.#tier = tier;
    this.live = tier !== null;
  }
}

/**
 * Options of a tier made without any: 32 MiB, revalidated after one second. A configuration has
 * no tier unless `globals.cache.memory_tier.max_mb` asks for one (config/build.ts).
 */
export const DEFAULT_MEMORY_TIER: MemoryTierOptions = { maxBytes: 32 * 1024 * 1024, revalidateMs: 1000 };

/** A byte-bounded LRU of tiles. */
export class MemoryTier {
  readonly maxBytes: number;
  readonly revalidateMs: number;
  readonly #entries = new Map<string, TierEntry>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(opts: MemoryTierOptions = DEFAULT_MEMORY_TIER) {
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.revalidateMs = Math.max(0, opts.revalidateMs);
  }

  /** The entry for `path` (made most recently used), or undefined. */
  get(path: string): TierEntry | undefined {
    const e = this.#entries.get(path);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.#entries.delete(path);
    this.#entries.set(path, e);
    return e;
  }

  /** Keep `entry` under `entry.path`, evicting the least recently used entries beyond `maxBytes`. */
  set(entry: TierEntry): void {
    const size = entry.data.length;
    if (size > this.maxBytes / 8) return; // one huge tile must not flush the tier
    const path = entry.path;
    this.delete(path);
    this.#entries.set(path, entry);
    entry.attach(this);
    this.#bytes += size;
    for (const [k, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      old.attach(null);
      this.#bytes -= old.data.length;
    }
  }

  /** Mark `entry` (held by this tier) most recently used, as `get` does. */
  touch(entry: TierEntry): void {
    this.#hits++;
    this.#entries.delete(entry.path);
    this.#entries.set(entry.path, entry);
  }

  delete(path: string): void {
    const e = this.#entries.get(path);
    if (e === undefined) return;
    this.#entries.delete(path);
    e.attach(null);
    this.#bytes -= e.data.length;
  }

  clear(): void {
    for (const e of this.#entries.values()) e.attach(null);
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** Entry count, bytes held, and lookups since start. */
  get stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses };
  }
}
