/**
 * TileManager: the heart of a cache. Serves a tile from storage when it is there and fresh;
 * otherwise creates the meta tile that contains it exactly once, however many requests, workers
 * or processes ask at the same moment:
 *
 *   in-process single flight per meta tile -> file lock in tile_lock_dir -> re-check storage
 *   -> source.getMap (meta bbox + buffer) -> decode once -> merge sources -> cut -> encode
 *   -> store (temp file + rename) -> unlock
 *
 * It knows nothing about which protocol asked (REFERENCE.md §2.5, §2.7).
 */
import { channel } from 'node:diagnostics_channel';
import type { MetaGrid, MetaTile, Size, TileCoord, TileGrid, Bbox, Srs } from '../grid/types.js';
import type { ImageOptions, RawImage } from '../image/types.js';
import type { Source, SourceImage } from '../source/types.js';
import type { HeldFile, HeldTile, TileStorage } from './types.js';
import {
  backgroundOf, blankImage, cropRaw, decodeImage, encodeImage, flattenRaw, isOpaqueOutput, mergeImages, mimeFromMagic,
  rawImage, singleColor, splitMetaTile,
} from '../image/index.js';
import { AuthorizeStaleError } from '../source/errors.js';
import { acquireFileLock, lockPathFor, SingleFlight } from './lock.js';
import { linksSingleColor, type SingleColorStorage } from './storage/file.js';
import { ImageDecodeError, MapProxyError, SourceError, TileOutOfRangeError } from '../errors.js';
import { getLogger } from '../log/index.js';

/** Diagnostics channels; metrics and logs subscribe, the hot path only publishes when someone listens. */
export const tileChannels = {
  hit: channel('mapproxy:cache:hit'),
  miss: channel('mapproxy:cache:miss'),
  created: channel('mapproxy:cache:created'),
  lockWait: channel('mapproxy:cache:lock-wait'),
};

// Looked up at use, not import: configureLogging may replace the root logger after start-up.
const log = () => getLogger('mapproxy.cache');

/** A tile as the TileManager hands it out. */
export interface ManagedTile {
  readonly coord: TileCoord;
  readonly data: Buffer;
  readonly mime: string;
  /** ms since the epoch */
  readonly mtime: number;
  /** The stored file's time as Python's st_mtime, when storage knows it (ETag input). */
  readonly mtimeSec?: number;
  readonly cacheable: boolean;
  /** True when it came from storage (a cache hit), false or absent when created now. */
  readonly fromCache?: boolean;
  /** The version held in memory by the storage, when it is (see `StoredTile.held`). */
  readonly held?: HeldTile;
  /** The version's file kept open by the storage, when it is (see `StoredTile.file`). */
  readonly file?: HeldFile;
  /** Name of the cache it came from (for hit counts of answers given again). */
  readonly cache?: string;
}

/** Everything a TileManager needs; built from the config by `config/build.ts`. */
export interface TileManagerOptions {
  /** Cache name from the config. */
  readonly name: string;
  readonly grid: TileGrid;
  /** Bottom to top. */
  readonly sources: readonly Source[];
  /** null when `disable_storage: true`: nothing stored, nothing locked. */
  readonly storage: TileStorage | null;
  /** Output options of the cache (format, mode, colors …). */
  readonly image: ImageOptions;
  /** Format asked from the sources (`request_format`, default: the cache format). */
  readonly requestFormat: string;
  /**
   * `meta`: one source request per meta tile (sources that support it); `bulk`: the tiles of a
   * meta tile fetched one by one in parallel under one lock (bulk_meta_tiles, tile sources);
   * `single`: one tile at a time.
   */
  readonly tileMode: 'meta' | 'bulk' | 'single';
  /** Groups tiles into meta tiles; used by `meta` and `bulk`. */
  readonly metaGrid: MetaGrid;
  readonly minimizeMetaRequests: boolean;
  readonly concurrentTileCreators: number;
  readonly lockDir: string;
  readonly lockTimeoutMs: number;
  readonly lockStaleMs: number;
  /** True when a stored tile of this mtime (ms) must be re-created (`refresh_before`). */
  readonly isStale?: (mtime: number) => boolean;
  /** Store single-colour tiles once and link them (link_single_color_images). */
  readonly linkSingleColor: boolean;
  /** Tiles outside are never loaded or created (cache `coverage`), in the grid SRS. */
  readonly coverage?: { readonly bbox: Bbox; readonly srs: Srs };
}

type CreatedTiles = Map<string, ManagedTile>;

/** What the sources answered for one request, blanks left out. */
interface Fetched {
  readonly images: Array<{ readonly img: SourceImage; readonly opacity: number | undefined }>;
  readonly cacheable: boolean;
}

/** A tile about to be stored; `pixels` lets link_single_color_images look for a single colour. */
interface NewTile {
  readonly coord: TileCoord;
  readonly data: Buffer;
  readonly pixels?: RawImage;
}

const key = (c: TileCoord): string => `${c[0]}/${c[1]}/${c[2]}`;

/**
 * Does the file end like a complete image? A cheap check of the last bytes (no decode) so a
 * truncated tile written by a crashed foreign process is re-created instead of served.
 */
export function looksComplete(data: Buffer): boolean {
  if (data.length < 8) return false;
  if (data[0] === 0x89 && data[1] === 0x50) {
    // PNG: must end with the IEND chunk (length 0, "IEND", CRC AE426082).
    return data.length >= 20 && data.readUInt32BE(data.length - 8) === 0x49454e44;
  }
  if (data[0] === 0xff && data[1] === 0xd8) {
    // JPEG: EOI marker, possibly followed by padding some encoders add.
    for (let i = data.length - 1; i > 1 && i >= data.length - 64; i--) {
      if (data[i] === 0xd9 && data[i - 1] === 0xff) return true;
    }
    return false;
  }
  return true;
}

/** The cache of one (cache, grid) pair. */
export class TileManager {
  readonly name: string;
  readonly grid: TileGrid;
  readonly #o: TileManagerOptions;
  readonly #flights = new SingleFlight<string, CreatedTiles | null>();
  readonly #blank = new Map<string, Promise<Buffer>>();
  /** The storage when it links single-colour tiles (link_single_color_images), else null. */
  readonly #linker: SingleColorStorage | null;

  constructor(options: TileManagerOptions) {
    this.#o = options;
    const st = options.storage;
    this.#linker = options.linkSingleColor && st !== null && linksSingleColor(st) ? st : null;
    this.name = options.name;
    this.grid = options.grid;
  }

  get options(): TileManagerOptions {
    return this.#o;
  }

  /** MIME type of a stored tile's bytes (`mixed` caches hold PNG or JPEG). */
  #mimeOf(data: Buffer): string {
    const fmt = this.#o.image.format;
    if (fmt === 'mixed') return mimeFromMagic(data) ?? 'image/png';
    return fmt;
  }

  #inCoverage(coord: TileCoord): boolean {
    const cov = this.#o.coverage;
    if (!cov) return true;
    const [minx, miny, maxx, maxy] = this.grid.tileBbox(coord);
    const [cminx, cminy, cmaxx, cmaxy] = cov.bbox;
    return minx < cmaxx && maxx > cminx && miny < cmaxy && maxy > cminy;
  }

  /** A transparent tile of the grid's tile size, for tiles without data (outside coverage). */
  async blankTile(coord: TileCoord): Promise<ManagedTile> {
    const size = this.grid.tileSize;
    const k = `${size[0]}x${size[1]}`;
    let p = this.#blank.get(k);
    if (!p) {
      p = blankImage(size, { ...this.#o.image, format: 'image/png', transparent: true });
      this.#blank.set(k, p);
    }
    return { coord, data: await p, mime: 'image/png', mtime: Date.now(), cacheable: true };
  }

  /**
   * The tile at `coord` (the grid's internal numbering), from storage or freshly created.
   * Rejects with TileOutOfRangeError, SourceError or LockTimeoutError.
   */
  async getTile(coord: TileCoord): Promise<ManagedTile> {
    if (this.grid.limitTile(coord) === null) throw new TileOutOfRangeError();
    if (!this.#inCoverage(coord)) return this.blankTile(coord);
    const storage = this.#o.storage;
    let stale: ManagedTile | null = null;
    if (storage) {
      const stored = await storage.load(coord);
      if (stored) {
        const tile = { coord, data: stored.data, mime: this.#mimeOf(stored.data), mtime: stored.mtime, mtimeSec: stored.mtimeSec, cacheable: true, fromCache: true };
        if (!looksComplete(stored.data)) {
          log().warn({ cache: this.name, coord }, 'removing incomplete tile file');
          await storage.remove(coord);
        } else if (this.#o.isStale?.(stored.mtime)) {
          stale = tile;
        } else {
          if (tileChannels.hit.hasSubscribers) tileChannels.hit.publish({ cache: this.name });
          // Only a plain hit may be answered again without asking this manager (hot-answers.ts):
          // a stale tile must come back here, to be refreshed when the source answers again. With
          // refresh_before a version held now turns stale later, so none is handed out.
          if (this.#o.isStale !== undefined || (stored.held === undefined && stored.file === undefined)) return tile;
          return { ...tile, held: stored.held, file: stored.file, cache: this.name };
        }
      }
    }
    if (tileChannels.miss.hasSubscribers) tileChannels.miss.publish({ cache: this.name });
    try {
      const tiles = await this.#createFor([coord]);
      const t = tiles.get(key(coord));
      if (t) return t;
      // Another process created it while we waited for the lock.
      const again = storage ? await storage.load(coord) : null;
      if (again) return { coord, data: again.data, mime: this.#mimeOf(again.data), mtime: again.mtime, mtimeSec: again.mtimeSec, cacheable: true };
      throw new MapProxyError(`tile ${key(coord)} of cache ${this.name} was not created`, {
        code: 'MPX_ERR_TILE_NOT_CREATED',
        status: 500,
      });
    } catch (err) {
      if (err instanceof AuthorizeStaleError) {
        // on_error authorize_stale: the stale tile if there is one, else the on_error colour.
        if (stale) return stale;
        return this.#substituteTile(coord, err.substitute);
      }
      throw err;
    }
  }

  /** A non-cacheable tile cut from an on_error substitute image (a solid colour). */
  async #substituteTile(coord: TileCoord, img: SourceImage): Promise<ManagedTile> {
    const raw = await this.#decode(img);
    const [tw, th] = this.grid.tileSize;
    const data = await encodeImage(cropRaw(raw, 0, 0, tw, th), this.#o.image);
    return { coord, data, mime: this.#mimeOf(data), mtime: Date.now(), cacheable: false };
  }

  /**
   * Make sure every tile of `coords` exists (seeding, multi-tile requests). Groups by meta tile and
   * creates up to `concurrent_tile_creators` meta tiles at a time.
   */
  async ensureTiles(coords: readonly TileCoord[]): Promise<void> {
    const missing: TileCoord[] = [];
    for (const c of coords) {
      if (this.grid.limitTile(c) === null || !this.#inCoverage(c)) continue;
      const ts = this.#o.storage ? await this.#o.storage.timestamp(c) : null;
      if (ts === null || this.#o.isStale?.(ts)) missing.push(c);
    }
    if (missing.length === 0) return;
    if (this.#o.tileMode === 'meta' && this.#o.minimizeMetaRequests && missing.length > 1) {
      // minimize_meta_requests: per level, one request for exactly the missing tiles plus buffer.
      const levels = new Map<number, TileCoord[]>();
      for (const c of missing) levels.set(c[2], [...(levels.get(c[2]) ?? []), c]);
      for (const level of levels.values()) await this.#createMinimal(level);
      return;
    }
    const groups = new Map<string, TileCoord[]>();
    for (const c of missing) {
      const main = this.#mainTile(c);
      const k = key(main);
      const g = groups.get(k);
      if (g) g.push(c);
      else groups.set(k, [c]);
    }
    const queue = [...groups.values()];
    const workers = Array.from({ length: Math.max(1, Math.min(this.#o.concurrentTileCreators, queue.length)) }, async () => {
      for (let g = queue.shift(); g; g = queue.shift()) await this.#createFor(g);
    });
    await Promise.all(workers);
  }

  /** Create the meta tile (or single tile) holding `coords`, once per key in this process. */
  #mainTile(c: TileCoord): TileCoord {
    return this.#o.tileMode === 'single' ? c : this.#o.metaGrid.mainTile(c);
  }

  async #createFor(coords: readonly TileCoord[]): Promise<CreatedTiles> {
    const main = this.#mainTile(coords[0]);
    const res = await this.#flights.run(key(main), () => this.#createLocked(main));
    return res ?? new Map();
  }

  async #createLocked(main: TileCoord): Promise<CreatedTiles | null> {
    const storage = this.#o.storage;
    if (!storage) return this.#create(main);
    // MapProxy names the lock after the meta tile's first tile from the top (lockCoord).
    const lockCoord = this.#o.tileMode === 'single' ? main : this.#o.metaGrid.metaTile(main).lockCoord;
    const lockPath = lockPathFor(this.#o.lockDir, storage.lockCacheId, lockCoord);
    const t0 = Date.now();
    const lock = await acquireFileLock(lockPath, { timeoutMs: this.#o.lockTimeoutMs, staleMs: this.#o.lockStaleMs });
    if (tileChannels.lockWait.hasSubscribers) tileChannels.lockWait.publish({ cache: this.name, ms: Date.now() - t0 });
    try {
      if (lock.tookOver) this.#removeLeftovers(this.#coordsOf(main), lockPath);
      // Re-check under the lock: another process may have created the tiles while we waited.
      if (await this.#allCached(main)) return null;
      return await this.#create(main);
    } finally {
      await lock.release();
    }
  }

  /** One meta request covering exactly `coords` (one level) plus the buffer, under its own lock. */
  async #createMinimal(coords: readonly TileCoord[]): Promise<void> {
    const meta = this.#o.metaGrid.minimalMetaTile(coords);
    const storage = this.#o.storage;
    await this.#flights.run(`min:${coords.map(key).join(',')}`, async () => {
      if (!storage) return this.#createMeta(meta);
      const lockPath = lockPathFor(this.#o.lockDir, storage.lockCacheId, meta.lockCoord);
      const lock = await acquireFileLock(lockPath, { timeoutMs: this.#o.lockTimeoutMs, staleMs: this.#o.lockStaleMs });
      try {
        if (lock.tookOver) this.#removeLeftovers(meta.parts.map((p) => p.coord), lockPath);
        const stamps = await Promise.all(meta.parts.map((p) => storage.timestamp(p.coord)));
        if (stamps.every((ts) => ts !== null && !this.#o.isStale?.(ts))) return null;
        return await this.#createMeta(meta);
      } finally {
        await lock.release();
      }
    });
  }

  /**
   * After taking over the lock of a holder that died (a killed worker): remove the temp files its
   * interrupted writes of these tiles left, in the background (with the `quadkey` layout the
   * directory to read is the whole cache). Only files older than half the stale time go: the dead
   * holder refreshed its lock well within that, so its files are older, while this manager's own
   * writes of the same tiles, a moment later, are not; nor is a file of a writer that ignores our
   * locks (MapProxy: milliseconds per tile). Never fails a request: an error here is logged.
   */
  #removeLeftovers(coords: readonly TileCoord[], lockFile: string): void {
    const storage = this.#o.storage;
    if (!storage?.removeLeftovers) return;
    storage.removeLeftovers(coords, this.#o.lockStaleMs / 2).then(
      (removed) => {
        if (removed > 0) log().info({ cache: this.name, lockFile, removed }, 'removed temp files of a dead lock holder');
      },
      (err: unknown) => log().warn({ err, cache: this.name, lockFile }, 'could not remove temp files of a dead lock holder'),
    );
  }

  #coordsOf(main: TileCoord): TileCoord[] {
    if (this.#o.tileMode === 'single') return [main];
    return this.#o.metaGrid.metaTile(main).parts.map((p) => p.coord);
  }

  async #allCached(main: TileCoord): Promise<boolean> {
    const storage = this.#o.storage;
    if (!storage) return false;
    const stamps = await Promise.all(this.#coordsOf(main).map((c) => storage.timestamp(c)));
    return stamps.every((ts) => ts !== null && !this.#o.isStale?.(ts));
  }

  async #create(main: TileCoord): Promise<CreatedTiles> {
    let tiles: CreatedTiles;
    if (this.#o.tileMode === 'meta') {
      tiles = await this.#createMeta(this.#o.metaGrid.metaTile(main));
    } else if (this.#o.tileMode === 'bulk') {
      // MapProxy fetches the tiles of a bulk meta tile with a pool of concurrent_tile_creators.
      const created: CreatedTiles = new Map();
      const queue = this.#coordsOf(main);
      const n = Math.max(1, Math.min(this.#o.concurrentTileCreators, queue.length));
      await Promise.all(Array.from({ length: n }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          for (const [k, v] of await this.#createSingle(c)) created.set(k, v);
        }
      }));
      tiles = created;
    } else {
      tiles = await this.#createSingle(main);
    }
    if (tileChannels.created.hasSubscribers) tileChannels.created.publish({ cache: this.name, tiles: tiles.size });
    return tiles;
  }

  /**
   * Ask every source. Blank answers (outside a source's coverage or resolution range, seed_only)
   * contribute nothing, as MapProxy's BlankImage: `images` holds the others with their opacity.
   */
  async #fetchAll(bbox: Bbox, size: Size): Promise<Fetched> {
    const query = {
      bbox,
      size,
      srs: this.grid.srs,
      format: this.#o.requestFormat,
      transparent: this.#o.image.transparent,
    };
    const all = await Promise.all(this.#o.sources.map((s) => s.getMap(query)));
    const images: Fetched['images'] = [];
    all.forEach((img, i) => {
      if (!img.blank) images.push({ img, opacity: this.#o.sources[i].opacity });
    });
    return { images, cacheable: all.every((i) => i.cacheable) };
  }

  /** Tiles for coords no source has data for: transparent, handed out but never stored. */
  async #blankTiles(coords: readonly TileCoord[], cacheable: boolean): Promise<CreatedTiles> {
    const out: CreatedTiles = new Map();
    for (const c of coords) out.set(key(c), { ...(await this.blankTile(c)), cacheable });
    return out;
  }

  async #decode(img: SourceImage): Promise<RawImage> {
    if (img.raw) return img.raw;
    try {
      return await decodeImage(img.data);
    } catch (err) {
      if (err instanceof ImageDecodeError) {
        throw new SourceError(`invalid image from source: ${err.message}`, { reason: 'bad-image', cause: err });
      }
      throw err;
    }
  }

  /** Decode every source image once and merge them bottom to top. */
  async #compose(images: Fetched['images'], size: Size): Promise<RawImage> {
    const raws = await Promise.all(images.map((i) => this.#decode(i.img)));
    if (raws.length === 1) return raws[0];
    return mergeImages(raws.map((image, i) => ({ image, opacity: images[i].opacity })), size, this.#o.image);
  }

  async #createMeta(meta: MetaTile): Promise<CreatedTiles> {
    const { images, cacheable } = await this.#fetchAll(meta.bbox, meta.size);
    if (images.length === 0) return this.#blankTiles(meta.parts.map((p) => p.coord), cacheable);
    const raw = await this.#compose(images, meta.size);
    const parts = await splitMetaTile(raw, meta.parts, this.grid.tileSize, this.#o.image);
    let tiles: NewTile[] = parts;
    if (cacheable && this.#linker) {
      const [tw, th] = this.grid.tileSize;
      const fill = backgroundOf(this.#o.image);
      tiles = parts.map((p, i) => {
        const [ox, oy] = meta.parts[i].offset;
        return { ...p, pixels: cropRaw(raw, ox, oy, tw, th, fill) };
      });
    }
    return this.#finish(tiles, cacheable);
  }

  async #createSingle(coord: TileCoord): Promise<CreatedTiles> {
    const size = this.grid.tileSize;
    const { images, cacheable } = await this.#fetchAll(this.grid.tileBbox(coord), size);
    if (images.length === 0) return this.#blankTiles([coord], cacheable);
    let data: Buffer;
    let pixels: RawImage | undefined;
    const only = images.length === 1 ? images[0].img : null;
    if (only && this.#passThrough(only)) {
      // MapProxy stores a tile source's bytes as received; we do the same when they already are
      // in the cache format (checked by magic bytes, never by the upstream's Content-Type).
      data = only.data;
      pixels = only.raw;
      if (!pixels && cacheable && this.#linker) pixels = await this.#decode(only);
    } else {
      pixels = await this.#compose(images, size);
      data = await encodeImage(pixels, this.#o.image);
    }
    return this.#finish([{ coord, data, pixels }], cacheable);
  }

  /**
   * The one colour of a tile as MapProxy names its shared file: RGB for opaque output (alpha
   * flattened onto the background, as the encoder does), RGBA for output that keeps alpha. Null
   * when the tile has more than one colour.
   */
  #singleColorOf(pixels: RawImage, data: Buffer): number[] | null {
    const c = singleColor(pixels);
    if (!c) return null;
    const mime = mimeFromMagic(data) ?? this.#o.image.format;
    const opaque = this.#o.image.format === 'mixed' ? mime === 'image/jpeg' : isOpaqueOutput(this.#o.image, mime);
    if (!opaque) return c;
    const flat = flattenRaw(rawImage(Buffer.from(c), 1, 1), this.#o.image.bgcolor);
    return [flat.data[0], flat.data[1], flat.data[2]];
  }

  /**
   * Store new tiles (when cacheable and storage is on) and hand them out with the mtime storage
   * gives them, so a fresh answer carries the same Last-Modified and ETag as every later hit.
   */
  async #finish(tiles: readonly NewTile[], cacheable: boolean): Promise<CreatedTiles> {
    const storage = this.#o.storage;
    const out: CreatedTiles = new Map();
    if (!cacheable || !storage) {
      const now = Date.now();
      for (const t of tiles) out.set(key(t.coord), { coord: t.coord, data: t.data, mime: this.#mimeOf(t.data), mtime: now, cacheable });
      return out;
    }
    const linker = this.#linker;
    const results = await Promise.allSettled(tiles.map(async (t) => {
      const color = linker && t.pixels ? this.#singleColorOf(t.pixels, t.data) : null;
      if (linker && color) await linker.storeSingleColor(t.coord, t.data, color);
      else await storage.store(t.coord, t.data);
      // The time a later load reports, so the ETag does not change between this answer and hits.
      return (await storage.stamp(t.coord)) ?? { mtime: Date.now() };
    }));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    tiles.forEach((t, i) => {
      const { mtime, mtimeSec } = (results[i] as PromiseFulfilledResult<{ mtime: number; mtimeSec?: number }>).value;
      out.set(key(t.coord), { coord: t.coord, data: t.data, mime: this.#mimeOf(t.data), mtime, mtimeSec, cacheable });
    });
    return out;
  }

  #passThrough(img: SourceImage): boolean {
    const magic = mimeFromMagic(img.data);
    if (!magic) return false;
    const fmt = this.#o.image.format;
    if (fmt === 'mixed') return magic === 'image/png' || magic === 'image/jpeg';
    return magic === fmt;
  }
}
