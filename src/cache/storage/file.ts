/**
 * The file cache (`cache.type: file`, MapProxy's default): one file per tile under a cache root,
 * in one of the directory layouts of `layouts.ts`. Writes go to a temp file in the tile's own
 * directory and are renamed into place, so a reader never sees half a tile and a crash never
 * leaves a partial tile under its final name. Optionally stores single-colour tiles once and links
 * them (`link_single_color_images`). REFERENCE.md §1.4, §2.6.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { chmod, link, lstat, mkdir, open, rename, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import type { TileCoord } from '../../grid/types.js';
import type { HeldFile, ReadBuffer, StoredTile, TileStorage } from '../types.js';
import { type Dimensions, type FileLayout, isFileLayout, levelLocation, tilePath } from './layouts.js';
import { isMissing, removeTempFilesIn, removeTempFilesOf, tempSuffix } from './temp-files.js';
import { type MemoryTier, TierEntry } from './memory-tier.js';
import { giveBackDescriptors, type OpenFile, type OpenFiles } from './open-files.js';

/** How single-colour tiles are linked to their one stored copy. */
export type SingleColorLinking = false | 'symlink' | 'hardlink';

/** Options of a file cache. */
export interface FileTileStorageOptions {
  /** Absolute cache root (`cache_dir`). Its exact string is hashed for `lockCacheId`. */
  readonly directory: string;
  /** Directory layout; `tc` by default. */
  readonly layout?: FileLayout;
  /** File extension without dot (`png`, `jpeg`, `mixed`). */
  readonly extension: string;
  /** Mode of new tile files (`file_permissions`), applied exactly, whatever the umask. */
  readonly fileMode?: number;
  /** Mode of new directories (`directory_permissions`), applied exactly, whatever the umask. */
  readonly dirMode?: number;
  /** `link_single_color_images`: `true` in the config means `symlink`. */
  readonly linkSingleColor?: SingleColorLinking;
  /** Where the single-colour originals live; MapProxy: `<cache_dir>/single_color_tiles`. */
  readonly singleColorDir?: string;
  /** Dimension values of every tile of this storage (a sub-path before the level, §2.6). */
  readonly dimensions?: Dimensions;
  /**
   * The memory tier hits are served from (`memory-tier.ts`), shared by the caches of one
   * configuration; none by default: every load reads the file.
   */
  readonly memoryTier?: MemoryTier | null;
  /**
   * Where the files of recently served tiles stay open (`open-files.ts`), shared like the memory
   * tier; none by default: every read opens and closes the file.
   */
  readonly openFiles?: OpenFiles | null;
  /**
   * Whether a hit may read its kept-open file on the event loop (`HeldFile.readNow`,
   * `globals.cache.memory_tier.blocking_reads`); off by default. Without `openFiles`, or with a
   * memory tier (a hit's bytes are kept, so they cannot live in a lent buffer), it has no effect.
   */
  readonly blockingReads?: boolean;
}

/** A storage that can store a single-colour tile as a link to one shared file. */
export interface SingleColorStorage {
  readonly linkSingleColor: SingleColorLinking;
  storeSingleColor(coord: TileCoord, data: Buffer, color: readonly number[]): Promise<void>;
}

/** True when `storage` links single-colour tiles (the TileManager then checks tiles for one colour). */
export function linksSingleColor(storage: TileStorage): storage is TileStorage & SingleColorStorage {
  const s = storage as Partial<SingleColorStorage>;
  return typeof s.storeSingleColor === 'function' && s.linkSingleColor !== false && s.linkSingleColor !== undefined;
}

/**
 * Parses MapProxy's octal permission strings (`file_permissions: '640'`) into a mode.
 *
 * @param yamlPath where the value was found, for the error message
 * @throws ConfigError when the text is not 1–4 octal digits
 */
export function parseOctalMode(text: unknown, yamlPath: string): number {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !/^[0-7]{1,4}$/.test(s)) {
    throw new ConfigError([{ path: yamlPath, message: `expected an octal permission string like '644', got ${JSON.stringify(text)}` }]);
  }
  return parseInt(s, 8);
}

function checkMode(name: string, mode: number | undefined): void {
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
    throw new RangeError(`${name} must be a file mode between 0 and 0o7777, got ${mode}`);
  }
}

/** MapProxy's `write_atomic` creates tiles with 0664 (minus the umask) when no mode is configured. */
const DEFAULT_FILE_MODE = 0o664;

/** File-per-tile storage in MapProxy's directory layouts. */
export class FileTileStorage implements TileStorage, SingleColorStorage {
  readonly lockCacheId: string;
  readonly directory: string;
  readonly layout: FileLayout;
  readonly extension: string;
  readonly linkSingleColor: SingleColorLinking;
  readonly #root: string;
  readonly #fileMode: number | undefined;
  readonly #dirMode: number | undefined;
  readonly #singleColorDir: string;
  readonly #dimensions: Dimensions | undefined;
  readonly #tier: MemoryTier | null;
  readonly #files: OpenFiles | null;
  readonly #blockingReads: boolean;

  /** Whether held files are read on the event loop (`HeldFile.readNow`; see the option). */
  get blockingReads(): boolean {
    return this.#blockingReads;
  }

  /** @throws RangeError for a relative directory, unknown layout, bad extension or mode. */
  constructor(opts: FileTileStorageOptions) {
    if (typeof opts.directory !== 'string' || !path.isAbsolute(opts.directory)) {
      throw new RangeError(`cache directory must be an absolute path, got ${JSON.stringify(opts.directory)}`);
    }
    const layout = opts.layout ?? 'tc';
    if (!isFileLayout(layout)) throw new RangeError(`unknown directory_layout ${JSON.stringify(layout)}`);
    if (!/^[A-Za-z0-9_-]+$/.test(opts.extension)) {
      throw new RangeError(`invalid tile file extension ${JSON.stringify(opts.extension)}`);
    }
    checkMode('fileMode', opts.fileMode);
    checkMode('dirMode', opts.dirMode);
    const linking = opts.linkSingleColor ?? false;
    if (linking !== false && linking !== 'symlink' && linking !== 'hardlink') {
      throw new RangeError(`linkSingleColor must be false, 'symlink' or 'hardlink', got ${JSON.stringify(linking)}`);
    }
    // MapProxy: lock_cache_id = md5(cache_dir), of the string as configured.
    this.lockCacheId = createHash('md5').update(opts.directory, 'utf8').digest('hex');
    this.directory = opts.directory;
    this.#root = path.resolve(opts.directory);
    this.#tier = opts.memoryTier ?? null;
    this.#files = opts.openFiles ?? null;
    this.#blockingReads = opts.blockingReads === true && this.#tier === null && this.#files !== null;
    this.layout = layout;
    this.extension = opts.extension;
    this.linkSingleColor = linking;
    this.#fileMode = opts.fileMode;
    this.#dirMode = opts.dirMode;
    this.#singleColorDir = opts.singleColorDir ?? path.join(this.#root, 'single_color_tiles');
    if (!path.isAbsolute(this.#singleColorDir)) {
      throw new RangeError(`singleColorDir must be an absolute path, got ${JSON.stringify(opts.singleColorDir)}`);
    }
    this.#dimensions = opts.dimensions;
    // Fail at construction, not on the first request, for dimensions the layout cannot hold.
    tilePath(layout, [0, 0, 0], opts.extension, opts.dimensions);
  }

  /** The absolute file name of a tile. */
  tileLocation(coord: TileCoord): string {
    return this.#root + path.sep + tilePath(this.layout, coord, this.extension, this.#dimensions);
  }

  /** The absolute file name of the shared copy of a single-colour tile (`fe0004.png`, `ffffff00.png`). */
  singleColorLocation(color: readonly number[]): string {
    if (!(color.length === 3 || color.length === 4) || !color.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new RangeError(`a single colour is 3 or 4 integers 0-255, got [${color.join(', ')}]`);
    }
    // MapProxy: '%02x' per channel, RGB or RGBA as the image mode has them.
    const name = color.map((v) => v.toString(16).padStart(2, '0')).join('');
    return path.join(this.#singleColorDir, `${name}.${this.extension}`);
  }

  /**
   * The tile's bytes and timestamp, by the cheapest way that is fresh enough: the memory tier
   * (no system call), else a file kept open (one pread), else open, fstat, read (the file then
   * stays open when the open-file level is on, or is closed). An entry of either level is trusted
   * for its `revalidateMs` since it was last checked; after that one stat (lstat for symlinked
   * tiles) compares mtime, size and inode, and a changed or removed tile is read again or dropped.
   * File system calls go through libuv's thread pool (callback API: one promise per load, not one
   * per call), never block the event loop (ARCHITECTURE.md: no sync fs on the hit path).
   */
  async load(coord: TileCoord): Promise<StoredTile | null> {
    const loc = this.tileLocation(coord);
    const symlinked = this.linkSingleColor === 'symlink';
    const tier = this.#tier;
    if (tier) {
      const e = tier.get(loc);
      if (e) {
        const now = Date.now();
        if (now - e.checked < tier.revalidateMs) return e;
        const st = await statCb(loc, symlinked);
        if (st && st.mtimeMs === e.statMtime && st.size === e.statSize && st.ino === e.ino) {
          e.checked = now;
          return e;
        }
        this.#forget(loc);
        if (!st) return null;
      }
    }
    const f = this.#files?.get(loc);
    if (f) {
      const got = await this.#readOpen(loc, f);
      if (got !== undefined) return got;
    }
    const files = this.#files;
    // Read as of before the open: the revalidate bound counts from there, however long the read.
    const checked = Date.now();
    // A symlinked tile is dated by its link, looked at before the open: a link swapped between the
    // two leaves the entry with the old link's stamp, which the next check no longer finds, so the
    // tile is read again within the bound. (Looked at after the open, the new link's stamp would
    // vouch for the old target's bytes for good.)
    const link = symlinked ? await linkStampCb(loc) : null;
    const read = await openAndRead(loc, files);
    if (read === null) return null;
    const v: FileStamp = link ?? read.st;
    const { mtimeMs: mtime, mtimeSec } = v;
    const stamp = { statMtime: v.mtimeMs, statSize: v.size, ino: v.ino };
    let kept: OpenFile | undefined;
    if (files && read.data.length === read.st.size) {
      kept = files.add(loc, {
        fd: read.fd,
        size: read.st.size,
        statMtime: stamp.statMtime,
        statSize: stamp.statSize,
        ino: stamp.ino,
        mtime,
        mtimeSec,
        checked,
      });
    } else {
      fs.close(read.fd, () => undefined);
    }
    return this.#keep(loc, read.data, mtime, stamp, checked, mtimeSec, kept);
  }

  /**
   * The tile read through its open file `f` (one pread; one stat first when `f` is due for its
   * check): the tile, null when the file is gone, undefined when `f` cannot give this version any
   * more (changed on disk, truncated, let go of): `f` is dropped then and the path must be read.
   */
  #readOpen(loc: string, f: OpenFile): Promise<StoredTile | null | undefined> {
    return new Promise((resolve, reject) => this.#readOpenCb(loc, f, (err, tile) => (err ? reject(err) : resolve(tile))));
  }

  /**
   * `#readOpen` with a callback: the path of every hit given again from an open file, so it
   * allocates no promise.
   */
  #readOpenCb(loc: string, f: OpenFile, done: (err: Error | null, tile?: StoredTile | null, lent?: boolean) => void, into?: ReadBuffer): void {
    const files = this.#files as OpenFiles;
    if (Date.now() - f.checked < files.revalidateMs) {
      this.#pread(loc, f, done, into);
      return;
    }
    // Confirmed as of before the stat, as the tier does: the bound never stretches.
    const started = Date.now();
    (this.linkSingleColor === 'symlink' ? fs.lstat : fs.stat)(loc, (err, st) => {
      if (err && !isMissing(err)) return done(err);
      if (err || st.mtimeMs !== f.statMtime || st.size !== f.statSize || st.ino !== f.ino) {
        files.delete(loc, f);
        return done(null, err ? null : undefined);
      }
      if (started > f.checked) f.checked = started;
      this.#pread(loc, f, done, into);
    });
  }

  /**
   * The second half of `#readOpenCb`: the pread, and the hit it makes; into a buffer `into` lends
   * only when no memory tier would keep the bytes.
   */
  #pread(loc: string, f: OpenFile, done: (err: Error | null, tile?: StoredTile | null, lent?: boolean) => void, into?: ReadBuffer): void {
    const files = this.#files as OpenFiles;
    files.read(f, (err, data, lent) => {
      if (err) return done(err);
      if (data === null) {
        files.delete(loc, f);
        return done(null, undefined);
      }
      // A hit like any other: the answers given again from this file keep it among the kept.
      let tile: StoredTile;
      try {
        files.touch(loc, f);
        tile = this.#keep(loc, data, f.mtime, f, f.checked, f.mtimeSec, f);
      } catch (e) {
        // In an fs callback a throw would end the process; the caller answers it as a failed load.
        done(e as Error);
        return;
      }
      done(null, tile, lent);
    }, this.#tier === null ? into : undefined);
  }

  /** The open file `f` of `loc` as the storage hands it out (`StoredTile.file`). */
  #heldFile(loc: string, f: OpenFile): HeldFile {
    f.handle ??= {
      read: (done, into) => {
        if (f.evicted) {
          done(null);
          return;
        }
        // Lent only without a tier (which would keep the bytes), and when `into` had a buffer
        // large enough: the caller gives it back.
        this.#readOpenCb(loc, f, (err, tile, lent) => done(err === null && tile ? (lent === true ? { data: tile.data, lent: true } : tile) : null), into);
      },
      readNow: this.#blockingReads ? (into) => this.#readNow(loc, f, into) : undefined,
    };
    return f.handle;
  }

  /**
   * `HeldFile.readNow` of the open file `f` of `loc`: one pread on the event loop, after one stat
   * there too when `f` is due for its check. Undefined when the stat finds another version (or
   * none, or fails), or when the read does not give `f`'s version: the callback path then stats
   * and reads again and drops `f` when it must.
   */
  #readNow(loc: string, f: OpenFile, into: ReadBuffer): Buffer | undefined {
    const files = this.#files as OpenFiles;
    if (f.evicted) return undefined;
    // Due: the check the callback path does through the pool, here on the event loop like the
    // read (the bound counted from before the stat, as there). Through the pool, the hit of a busy
    // tile that fell due took two round trips (stat, then pread) once per bound.
    const started = Date.now();
    if (started - f.checked >= files.revalidateMs) {
      let st: fs.Stats | undefined;
      try {
        st = (this.linkSingleColor === 'symlink' ? fs.lstatSync : fs.statSync)(loc, { throwIfNoEntry: false });
      } catch {
        return undefined;
      }
      if (st === undefined || st.mtimeMs !== f.statMtime || st.size !== f.statSize || st.ino !== f.ino) return undefined;
      if (started > f.checked) f.checked = started;
    }
    const buf = into.take(f.size + 1);
    if (buf === undefined) return undefined;
    const data = files.readNow(f, buf);
    if (data === undefined) into.give(buf, true);
    else files.touch(loc, f);
    return data;
  }

  /**
   * A tile just read: put into the memory tier (when there is one), with its open file `kept`
   * (when the open-file level keeps it).
   */
  #keep(
    loc: string,
    data: Buffer,
    mtime: number,
    stamp: { readonly statMtime: number; readonly statSize: number; readonly ino: number },
    checked: number,
    mtimeSec: number | undefined,
    kept: OpenFile | undefined,
  ): StoredTile {
    const file = kept === undefined ? undefined : this.#heldFile(loc, kept);
    const tier = this.#tier;
    if (tier === null) return file === undefined ? { data, mtime, mtimeSec } : { data, mtime, mtimeSec, file };
    const entry = new TierEntry(loc, data, mtime, stamp.statMtime, stamp.statSize, stamp.ino, checked, this.linkSingleColor === 'symlink', mtimeSec);
    entry.file = file;
    tier.set(entry);
    return entry;
  }

  /** Drop `loc` from both levels of the hit path (it was written, removed, or changed on disk). */
  #forget(loc: string): void {
    this.#tier?.delete(loc);
    this.#files?.delete(loc);
  }

  /** The tile's mtime (of the link itself for a symlink, as MapProxy's lstat), without reading it. */
  async timestamp(coord: TileCoord): Promise<number | null> {
    return (await this.stamp(coord))?.mtime ?? null;
  }

  /** `timestamp` with the time also as Python's st_mtime (what a later load reports). */
  async stamp(coord: TileCoord): Promise<{ mtime: number; mtimeSec: number } | null> {
    const loc = this.tileLocation(coord);
    try {
      const l = await lstat(loc, { bigint: true });
      if (l.isSymbolicLink()) {
        const target = await stat(loc);
        if (!target.isFile() || target.size === 0) return null;
      } else if (!l.isFile() || l.size === 0n) {
        return null;
      }
      const s = stampOf(l);
      return { mtime: s.mtimeMs, mtimeSec: s.mtimeSec };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async isCached(coord: TileCoord): Promise<boolean> {
    try {
      const st = await stat(this.tileLocation(coord));
      return st.isFile() && st.size > 0;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async store(coord: TileCoord, data: Buffer): Promise<void> {
    const loc = this.tileLocation(coord);
    this.#forget(loc);
    await this.#writeAtomic(loc, data);
  }

  /** Writes every part concurrently; rejects with the first failure after all writes settled. */
  async storeMany(tiles: ReadonlyArray<{ coord: TileCoord; data: Buffer }>): Promise<void> {
    const results = await Promise.allSettled(tiles.map((t) => this.store(t.coord, t.data)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  async remove(coord: TileCoord): Promise<boolean> {
    const loc = this.tileLocation(coord);
    this.#forget(loc);
    try {
      await unlink(loc);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /**
   * Temp files of these tiles left by a writer that died before renaming them (see `TileStorage`),
   * and, with `link_single_color_images`, those of the shared single-colour files: a writer killed
   * while it wrote the first tile of a new colour left one there.
   */
  async removeLeftovers(coords: readonly TileCoord[], minAgeMs: number): Promise<number> {
    let removed = await removeTempFilesOf(coords.map((c) => this.tileLocation(c)), minAgeMs);
    if (this.linkSingleColor !== false) {
      const shared = new RegExp(`^(?:[0-9a-f]{6}|[0-9a-f]{8})\\.${this.extension.replace(/[^\w]/g, '\\$&')}$`);
      removed += await removeTempFilesIn(this.#singleColorDir, (name) => shared.test(name), minAgeMs);
    }
    return removed;
  }

  levelLocation(level: number): string | null {
    const rel = levelLocation(this.layout, level, this.#dimensions);
    return rel === null ? null : this.#root + path.sep + rel;
  }

  /**
   * Stores a tile of one colour as a link to `<single_color_tiles>/<rrggbb[aa]>.<ext>`, writing
   * that shared file first when it does not exist. Symlinks are relative (MapProxy), so the cache
   * dir can move. The link is made under a temp name and renamed over the tile, so readers see
   * the old tile or the new link, never neither.
   *
   * @param color the tile's colour, RGB or RGBA as the image has it
   */
  async storeSingleColor(coord: TileCoord, data: Buffer, color: readonly number[]): Promise<void> {
    if (this.linkSingleColor === false) {
      await this.store(coord, data);
      return;
    }
    const shared = this.singleColorLocation(color);
    const loc = this.tileLocation(coord);
    this.#forget(loc);
    for (let attempt = 0; ; attempt++) {
      if (!(await exists(shared))) await this.#writeAtomic(shared, data);
      const tmp = loc + tempSuffix();
      try {
        await this.#withDir(loc, () =>
          this.linkSingleColor === 'hardlink'
            ? link(shared, tmp)
            : symlink(path.relative(path.dirname(loc), shared), tmp),
        );
        await rename(tmp, loc);
        return;
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        // The shared file vanished between the check and link (a cleanup); write it again.
        if (attempt < 2 && isMissing(err) && this.linkSingleColor === 'hardlink') continue;
        throw err;
      }
    }
  }

  /** Temp file in the target's directory, exact mode, then rename over the target. */
  async #writeAtomic(loc: string, data: Buffer): Promise<void> {
    const tmp = loc + tempSuffix();
    const mode = this.#fileMode ?? DEFAULT_FILE_MODE;
    try {
      const fh = await this.#withDir(loc, () => open(tmp, 'wx', mode));
      try {
        if (this.#fileMode !== undefined) await fh.chmod(this.#fileMode);
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
      await rename(tmp, loc);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Runs `create` (which makes a file in `loc`'s directory); when the directory is missing,
   * creates it and tries again. Trying first saves a mkdir per tile on a warm cache; the retry
   * loop covers a cleanup removing the empty directory in between.
   */
  async #withDir<T>(loc: string, create: () => Promise<T>): Promise<T> {
    const dir = path.dirname(loc);
    for (let attempt = 0; ; attempt++) {
      try {
        return await create();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err;
        await this.#ensureDir(dir);
      }
    }
  }

  async #ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: this.#dirMode ?? 0o777 });
    if (first !== undefined && this.#dirMode !== undefined) {
      // mkdir's mode is masked by the umask; MapProxy's directory_permissions are meant exactly.
      const created: string[] = [];
      for (let d = dir; d.length >= first.length; d = path.dirname(d)) {
        created.push(d);
        if (d === first) break;
      }
      await Promise.all(created.map((d) => chmod(d, this.#dirMode as number).catch(ignoreRace)));
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    const st = await stat(file);
    return st.size > 0;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Another process may have made (and own) or removed a directory we just created. */
function ignoreRace(err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ENOENT' && code !== 'EPERM') throw err;
}

/** What a read tile is validated and dated by (from a nanosecond stat). */
interface FileStamp {
  /** As Node's `Stats.mtimeMs` computes it, so it compares equal with a plain stat's. */
  readonly mtimeMs: number;
  /** As Python's `st_mtime`: `sec + nsec * 1e-9` (MapProxy's ETag input). */
  readonly mtimeSec: number;
  readonly size: number;
  readonly ino: number;
}

function stampOf(st: fs.BigIntStats): FileStamp {
  const sec = Number(st.mtimeNs / 1_000_000_000n);
  const nsec = Number(st.mtimeNs % 1_000_000_000n);
  return { mtimeMs: sec * 1e3 + nsec / 1e6, mtimeSec: sec + nsec * 1e-9, size: Number(st.size), ino: Number(st.ino) };
}

/** lstat to the nanosecond (a symlinked tile is dated by its link); null when the link is gone. */
function linkStampCb(loc: string): Promise<FileStamp | null> {
  return new Promise((resolve, reject) => {
    fs.lstat(loc, { bigint: true }, (err, st) => {
      if (err) return isMissing(err) ? resolve(null) : reject(err);
      resolve(stampOf(st));
    });
  });
}

/** stat (or lstat) through the callback API; null when the file is gone. */
function statCb(loc: string, link: boolean): Promise<fs.Stats | null> {
  return new Promise((resolve, reject) => {
    (link ? fs.lstat : fs.stat)(loc, (err, st) => {
      if (err) return isMissing(err) ? resolve(null) : reject(err);
      resolve(st);
    });
  });
}

/**
 * open, fstat, read with the callback API (one promise for the three); null for a missing or
 * empty file (closed then). The caller owns the returned fd. Tiles are replaced by rename, never
 * rewritten in place, so the open inode keeps its size. On EMFILE/ENFILE the open-file level
 * keeping the most files gives back half its descriptors and the open is tried once more, once
 * they are closed.
 */
function openAndRead(loc: string, files: OpenFiles | null): Promise<{ fd: number; data: Buffer; st: FileStamp } | null> {
  return new Promise((resolve, reject) => {
    const onOpen = (retry: boolean) => (err: NodeJS.ErrnoException | null, fd: number): void => {
      if (err) {
        if (retry && files && (err.code === 'EMFILE' || err.code === 'ENFILE') && giveBackDescriptors(() => fs.open(loc, 'r', onOpen(false)))) {
          return;
        }
        return isMissing(err) ? resolve(null) : reject(err);
      }
      const fail = (e: NodeJS.ErrnoException | null): void => {
        fs.close(fd, () => undefined);
        if (e) reject(e);
        else resolve(null);
      };
      fs.fstat(fd, { bigint: true }, (err2, big) => {
        if (err2) return fail(err2);
        const st = stampOf(big);
        if (st.size === 0) return fail(null);
        const buf = Buffer.allocUnsafe(st.size);
        let off = 0;
        const next = (): void => {
          fs.read(fd, buf, off, buf.length - off, off, (err3, n) => {
            if (err3) return fail(err3);
            off += n;
            if (n === 0 && off === 0) return fail(null);
            if (n === 0 || off === buf.length) return resolve({ fd, data: off === buf.length ? buf : buf.subarray(0, off), st });
            next();
          });
        };
        next();
      });
    };
    fs.open(loc, 'r', onOpen(true));
  });
}
