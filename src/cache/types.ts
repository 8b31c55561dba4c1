/**
 * Contracts of the cache folder: tile storage backends and locks. A new backend is one file in
 * `cache/storage/` implementing `TileStorage`; the shared conformance suite in
 * `test/conformance/tile-storage.ts` must pass for it.
 */
import type { TileCoord } from '../grid/types.js';

/**
 * What the HTTP layer derives from one version of a tile (its ETag and Last-Modified), kept with
 * the tile so a hit from memory does not compute them again. Filled by whoever needs it first.
 */
export interface TileValidators {
  etag?: string;
  lastModified?: string;
}

/**
 * One version of a tile held in memory by its storage (the memory tier). Storage hands out the
 * same object for every hit of that version, so what is derived from it can be kept with it, and
 * an answer built from it may be given again while `isFresh()` holds.
 */
export interface HeldTile {
  readonly data: Buffer;
  readonly validators: TileValidators;
  /**
   * True while storage would answer a load of this tile with this very object without touching
   * the disk (held, and checked within the revalidate bound); counts as a use of it (LRU).
   */
  isFresh(): boolean;
  /**
   * Check the file now (one stat, as a load past the bound does) and call `done(true)` when this
   * version is still the file's and still held: it is then fresh for another revalidate period.
   * Concurrent calls share one stat. A changed or missing file gives false and is left to the
   * next load to replace or drop.
   */
  revalidate(done: (fresh: boolean) => void): void;
}

/**
 * One version of a tile kept as an open file by its storage (the open-file level): given again
 * with one positioned read, without open, stat and close. It never gives another version: past the
 * revalidate bound it stats the path first, and a file changed, removed or let go of gives null.
 */
export interface HeldFile {
  /**
   * This version's bytes, and the memory tier's copy when the storage keeps one (as a load
   * would), or null when this version can no longer be given and a full load must answer. With
   * `into`, a storage that keeps no memory copy reads into a buffer `into` lends, and says so
   * (`lent`): the caller gives it back once done with the bytes.
   */
  read(done: (tile: { readonly data: Buffer; readonly held?: HeldTile; readonly lent?: boolean } | null) => void, into?: ReadBuffer): void;
  /**
   * This version's bytes read at once, on the calling thread, into a buffer `into` lends (the
   * returned view of it), after the version's check there too when it is due; undefined when that
   * cannot be done now and `read` must: the check found another version (or none), no buffer is
   * lent, or the read did not give exactly this version.
   * Present only where the storage reads this way (`globals.cache.memory_tier.blocking_reads`,
   * never with memory copies). The caller gives the buffer back once done with the bytes.
   */
  readNow?(into: ReadBuffer): Buffer | undefined;
}

/** Lends buffers to read tiles into, given back once their bytes are written (see LentBuffers). */
export interface ReadBuffer {
  /** A buffer of at least `bytes` bytes, or undefined when none that large is lent. */
  take(bytes: number): Buffer | undefined;
  /** Give back `lent` (a view of a buffer `take` gave), `sent`: nothing else holds it. */
  give(lent: Buffer, sent: boolean): void;
}

/** A tile as it comes out of storage. */
export interface StoredTile {
  readonly data: Buffer;
  /** Modification time, ms since the epoch (file mtime for the file cache). */
  readonly mtime: number;
  /**
   * The same time as Python's `os.stat().st_mtime` (`sec + nsec * 1e-9`, a double), when the
   * storage knows it to the nanosecond: MapProxy's ETag is made from it (`mtime / 1000` loses
   * the nanoseconds for about one tile in four).
   */
  readonly mtimeSec?: number;
  /** Set when the storage holds this version in memory (see `HeldTile`). */
  readonly held?: HeldTile;
  /** Set when the storage keeps this version's file open (see `HeldFile`). */
  readonly file?: HeldFile;
}

/**
 * Where tiles live. Writes are atomic: a reader never sees half a tile and a crash leaves no
 * corrupt tile (temp file + rename for files). Coordinates are the grid's internal x/y/z.
 */
export interface TileStorage {
  /** Identifies the cache for lock names (MapProxy: md5 of the cache dir for the file cache). */
  readonly lockCacheId: string;
  /** The tile's bytes and mtime, or null when it is not stored. */
  load(coord: TileCoord): Promise<StoredTile | null>;
  /** The mtime (ms) of a stored tile, or null; never reads the body. */
  timestamp(coord: TileCoord): Promise<number | null>;
  /**
   * `timestamp` with `mtimeSec`, both as a load of the tile reports them (see `StoredTile`), so a
   * tile handed out right after it is stored carries the ETag of every later hit.
   */
  stamp(coord: TileCoord): Promise<{ mtime: number; mtimeSec?: number } | null>;
  isCached(coord: TileCoord): Promise<boolean>;
  /** Store one tile atomically. */
  store(coord: TileCoord, data: Buffer): Promise<void>;
  /** Store several tiles (one meta tile); each write atomic. */
  storeMany(tiles: ReadonlyArray<{ coord: TileCoord; data: Buffer }>): Promise<void>;
  /** Remove a tile; resolves true when something was removed. */
  remove(coord: TileCoord): Promise<boolean>;
  /** The directory holding one level, for level cleanup (null when the layout has none). */
  levelLocation?(level: number): string | null;
  /**
   * Remove what interrupted writes of these tiles left (temp files older than `minAgeMs`); called
   * under the meta tile's lock after it was taken over from a dead holder. Resolves to the count.
   */
  removeLeftovers?(coords: readonly TileCoord[], minAgeMs: number): Promise<number>;
}

/** A held lock; `release` is idempotent. */
export interface LockHandle {
  release(): Promise<void>;
}

/** Options of a file lock. */
export interface LockOptions {
  /** How long to wait for the lock before LockTimeoutError (ms). MapProxy: http.client_timeout. */
  readonly timeoutMs: number;
  /** A lock whose holder stopped refreshing it for this long is taken over (ms). */
  readonly staleMs: number;
  /** Poll interval while waiting (ms). */
  readonly pollMs?: number;
}
