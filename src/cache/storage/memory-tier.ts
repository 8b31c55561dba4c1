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
 *
 * Admission (TinyLFU): once the tier is full, a tile read from disk takes the place of the least
 * recently used one only if it was asked for more often lately (counted in a small frequency
 * sketch, `FrequencySketch`). With plain LRU, a tier smaller than the tiles in use replaced one
 * tile per read: every hit from disk copied a tile into memory and dropped another, old-generation
 * garbage that V8 collected with a full mark-compact every few dozen milliseconds. With the
 * rig's uniform request list and a tier of half the tiles, that made the tier 40 % slower than no
 * tier at all (16.6k against 29.7k req/s). Tiles asked for equally often now stay put, and under
 * skewed traffic the popular ones still push the others out.
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
  /** `path`'s hash for the frequency sketch, once computed (-1 before). */
  keyHash = -1;

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

/** Rows of the frequency sketch, and the multipliers that spread a key's hash over each. */
const SKETCH_SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f] as const;
/** A counter's ceiling: TinyLFU needs only "more often than", not exact counts. */
const SKETCH_MAX = 15;

/**
 * How often each key was asked for lately, approximately: a count-min sketch (four rows of small
 * counters, the smallest of a key's four is its estimate). All counters are halved every
 * `10 × width` counts, so popularity fades and a tile popular yesterday does not block today's.
 */
export class FrequencySketch {
  readonly #table: Uint8Array;
  readonly #mask: number;
  readonly #resetAt: number;
  #additions = 0;

  /** `capacity`: about how many keys the tier holds. */
  constructor(capacity: number) {
    let width = 256;
    while (width < capacity && width < 1 << 22) width *= 2;
    this.#table = new Uint8Array(width * SKETCH_SEEDS.length);
    this.#mask = width - 1;
    this.#resetAt = 10 * width;
  }

  /** Count one request of the key with hash `h`. */
  increment(h: number): void {
    const t = this.#table;
    const width = this.#mask + 1;
    for (let row = 0; row < SKETCH_SEEDS.length; row++) {
      const i = row * width + this.#slot(h, row);
      if (t[i] < SKETCH_MAX) t[i]++;
    }
    if (++this.#additions >= this.#resetAt) {
      for (let i = 0; i < t.length; i++) t[i] >>= 1;
      this.#additions = 0;
    }
  }

  /** The estimated recent requests of the key with hash `h`. */
  frequency(h: number): number {
    const t = this.#table;
    const width = this.#mask + 1;
    let min = SKETCH_MAX;
    for (let row = 0; row < SKETCH_SEEDS.length; row++) min = Math.min(min, t[row * width + this.#slot(h, row)]);
    return min;
  }

  #slot(h: number, row: number): number {
    const x = Math.imul(h, SKETCH_SEEDS[row]);
    return (x ^ (x >>> 15)) & this.#mask;
  }
}

/** FNV-1a of a string's UTF-16 code units: a cheap, well-spread 32-bit hash of a tile path. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A tile's guessed size for sizing the sketch: small PNG/JPEG tiles are a few KiB to some 20. */
const TYPICAL_TILE_BYTES = 8 * 1024;

/** A byte-bounded LRU of tiles with TinyLFU admission. */
export class MemoryTier {
  readonly maxBytes: number;
  readonly revalidateMs: number;
  readonly #entries = new Map<string, TierEntry>();
  readonly #sketch: FrequencySketch;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #rejected = 0;

  constructor(opts: MemoryTierOptions = DEFAULT_MEMORY_TIER) {
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.revalidateMs = Math.max(0, opts.revalidateMs);
    this.#sketch = new FrequencySketch(Math.ceil(this.maxBytes / TYPICAL_TILE_BYTES));
  }

  /** Count a request of `entry`'s tile in the sketch. */
  #count(entry: TierEntry): number {
    if (entry.keyHash < 0) entry.keyHash = hashKey(entry.path);
    this.#sketch.increment(entry.keyHash);
    return entry.keyHash;
  }

  /** The entry for `path` (made most recently used), or undefined. */
  get(path: string): TierEntry | undefined {
    const e = this.#entries.get(path);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#count(e);
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.#entries.delete(path);
    this.#entries.set(path, e);
    return e;
  }

  /**
   * Offer `entry` (just read from its file) to the tier: kept under `entry.path` while there is
   * room; when full, only if its tile was asked for more often lately than every least recently
   * used tile that would have to go to make room, which then go. Counts as a request of the tile.
   */
  set(entry: TierEntry): void {
    const size = entry.data.length;
    const h = this.#count(entry);
    if (size > this.maxBytes / 8) return; // one huge tile must not flush the tier
    const path = entry.path;
    this.delete(path);
    // The victims, least recently used first, until the bytes fit; any of them asked for as often
    // as the candidate keeps its place and the candidate stays out.
    let victims = 0;
    let freed = 0;
    if (this.#bytes + size > this.maxBytes) {
      const wanted = this.#sketch.frequency(h);
      for (const victim of this.#entries.values()) {
        if (victim.keyHash < 0) victim.keyHash = hashKey(victim.path);
        if (this.#sketch.frequency(victim.keyHash) >= wanted) {
          this.#rejected++;
          return;
        }
        victims++;
        freed += victim.data.length;
        if (this.#bytes - freed + size <= this.maxBytes) break;
      }
    }
    for (const [k, old] of this.#entries) {
      if (victims-- <= 0) break;
      this.#entries.delete(k);
      old.attach(null);
      this.#bytes -= old.data.length;
      this.#evictions++;
    }
    this.#entries.set(path, entry);
    entry.attach(this);
    this.#bytes += size;
  }

  /** Mark `entry` (held by this tier) most recently used, as `get` does. */
  touch(entry: TierEntry): void {
    this.#hits++;
    this.#count(entry);
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

  /**
   * Entry count, bytes held, lookups since start, tiles let go to make room, and tiles not taken
   * in because the ones held were asked for as often.
   */
  get stats(): { entries: number; bytes: number; hits: number; misses: number; evictions: number; rejected: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses, evictions: this.#evictions, rejected: this.#rejected };
  }
}
