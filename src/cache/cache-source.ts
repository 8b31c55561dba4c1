/**
 * A cache used as the source of another cache (REFERENCE.md §1.5 "Cache as source"): the
 * requested bbox is assembled from the tiles of the source cache (created there if missing),
 * then cropped — and scaled when the request resolution is not one of the grid's levels.
 * Only same-SRS grids are supported here; build refuses the rest with "not supported yet".
 *
 * `tiledOnly` (MapProxy's tiled_only): when the consuming cache's grid is the source cache's grid
 * or a subset of it, in the same format, the consumer asks tile by tile (no meta tiles of its
 * own) and gets the source cache's tile bytes unchanged. Meta tiles with a buffer would make the
 * source cache create neighbouring meta tiles only for the buffer.
 */
import type { Bbox, Srs, TileCoord } from '../grid/types.js';
import type { RawImage } from '../image/types.js';
import type { MapQuery, Source, SourceImage } from '../source/types.js';
import type { ManagedTile, TileManager } from './tile-manager.js';
import { cropRaw, decodeImage, scaleImage, stitchTiles } from '../image/index.js';
import { SourceError } from '../errors.js';

/** A cache's tiles as a `Source`. */
export class CacheSource implements Source {
  readonly type = 'cache';
  readonly supportsMetaTiles: boolean;
  readonly transparent: boolean;
  readonly name: string;
  /** True when the consumer reads exactly the source cache's tiles (see the module comment). */
  readonly tiledOnly: boolean;
  readonly #tm: TileManager;

  /** The source cache's extent cut to its grid (capabilities only; never limits requests). */
  readonly extent: { readonly bbox: Bbox; readonly srs: Srs } | undefined;

  constructor(name: string, tm: TileManager, opts: { tiledOnly?: boolean; extent?: { readonly bbox: Bbox; readonly srs: Srs } } = {}) {
    this.name = name;
    this.#tm = tm;
    this.extent = opts.extent;
    this.tiledOnly = opts.tiledOnly === true;
    this.supportsMetaTiles = !this.tiledOnly;
    this.transparent = tm.options.image.transparent;
  }

  async getMap(query: MapQuery): Promise<SourceImage> {
    const grid = this.#tm.grid;
    if (!query.srs.equals(grid.srs)) {
      throw new SourceError(`cache ${this.name} cannot serve ${query.srs.code} (its grid is in ${grid.srs.code})`, { reason: 'other' });
    }
    const [minx, miny, maxx, maxy] = query.bbox;
    const res = Math.min((maxx - minx) / query.size[0], (maxy - miny) / query.size[1]);
    const level = grid.closestLevel(res);
    const affected = grid.affectedLevelTiles(query.bbox, level);
    const [tw, th] = grid.tileSize;
    const [cols, rows] = affected.gridSize;
    const lres = grid.resolution(level);
    const cb: Bbox = affected.bbox;

    const one = cols === 1 && rows === 1 ? affected.tiles[0] : null;
    if (one && query.size[0] === tw && query.size[1] === th && sameBbox(cb, query.bbox, lres / 10)) {
      // Exactly one tile of the source cache: its bytes as they are (the consumer re-encodes
      // them only when its format differs).
      const tile = await this.#tm.getTile(one);
      return { data: tile.data, mime: tile.mime, cacheable: tile.cacheable };
    }

    let cacheable = true;
    const raws = await Promise.all(affected.tiles.map(async (coord: TileCoord | null): Promise<RawImage | null> => {
      if (!coord) return null;
      const tile: ManagedTile = await this.#tm.getTile(coord);
      if (!tile.cacheable) cacheable = false;
      return decodeImage(tile.data);
    }));
    const canvas = stitchTiles(raws, [cols, rows], [tw, th]);
    const px = Math.round((minx - cb[0]) / lres);
    const py = Math.round((cb[3] - maxy) / lres);
    const pw = Math.round((maxx - minx) / lres);
    const ph = Math.round((maxy - miny) / lres);
    let raw = cropRaw(canvas, px, py, pw, ph);
    if (pw !== query.size[0] || ph !== query.size[1]) raw = await scaleImage(raw, query.size, this.#tm.options.image.resampling);
    // Pixels only: the consuming TileManager cuts and encodes them itself.
    return { data: Buffer.alloc(0), mime: query.format, raw, cacheable };
  }
}

function sameBbox(a: Bbox, b: Bbox, tolerance: number): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
}
