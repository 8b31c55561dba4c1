/**
 * TileGridImpl: the geometry of one tile pyramid (MapProxy's TileGrid, REFERENCE.md §2.4) — grid
 * sizes per level, tile bboxes with MapProxy's 12-decimal rounding, point → tile, the tiles a
 * request touches, level choice (stretch_factor, threshold_res), origin flips and subset tests.
 */
import { MapProxyError } from '../errors.js';
import { bboxEquals, bboxIntersects, mergeBbox, requestResolution } from './bbox.js';
import { pyFloorDiv, pyRound } from './pyfloat.js';
import type { AffectedTiles, Bbox, Origin, Size, Srs, TileCoord, TileGrid } from './types.js';

/** Why a grid request cannot be answered with tiles. */
export type GridRequestReason = 'no-intersection' | 'too-coarse' | 'invalid-bbox' | 'invalid-level';

/**
 * A request the grid has no tiles for. `no-intersection` and `too-coarse` are MapProxy's NoTiles
 * (services answer with a blank image); `invalid-bbox` is its GridError; `invalid-level` a level
 * outside the grid.
 */
export class GridRequestError extends MapProxyError {
  readonly reason: GridRequestReason;
  constructor(message: string, reason: GridRequestReason) {
    super(message, { code: 'MPX_ERR_GRID_REQUEST', status: 400, ogcCode: 'InvalidParameterValue' });
    this.reason = reason;
  }
}

/** Read `ll`/`sw` and `ul`/`nw` in any case, as MapProxy does; undefined means `ll`. */
export function parseOrigin(value: string | undefined | null): Origin {
  if (value === undefined || value === null) return 'll';
  const v = value.toLowerCase();
  if (v === 'll' || v === 'sw') return 'll';
  if (v === 'ul' || v === 'nw') return 'ul';
  throw new RangeError(`unknown origin value '${value}' (use ll, sw, ul or nw)`);
}

/** Everything a TileGridImpl is made of; resolutions are used in the given order. */
export interface TileGridOptions {
  readonly name: string;
  readonly srs: Srs;
  readonly bbox: Bbox;
  readonly resolutions: readonly number[];
  readonly origin?: Origin;
  readonly tileSize?: Size;
  readonly stretchFactor?: number;
  readonly maxShrinkFactor?: number;
  readonly thresholdRes?: readonly number[];
}

/** The half-width of the default Mercator grids: π·6378137. */
export const MERCATOR_EXTENT = 20037508.342789244;

export class TileGridImpl implements TileGrid {
  readonly name: string;
  readonly srs: Srs;
  readonly bbox: Bbox;
  readonly origin: Origin;
  readonly tileSize: Size;
  readonly resolutions: readonly number[];
  readonly gridSizes: readonly Size[];
  readonly levels: number;
  readonly stretchFactor: number;
  readonly maxShrinkFactor: number;
  readonly thresholdRes: readonly number[];
  readonly profile: 'global-mercator' | 'global-geodetic' | 'local';
  #flippable: boolean | undefined;

  constructor(opts: TileGridOptions) {
    if (opts.resolutions.length === 0) throw new RangeError(`grid ${opts.name} has no resolutions`);
    this.name = opts.name;
    this.srs = opts.srs;
    this.bbox = Object.freeze([...opts.bbox]) as unknown as Bbox;
    this.origin = opts.origin ?? 'll';
    this.tileSize = Object.freeze([...(opts.tileSize ?? [256, 256])]) as unknown as Size;
    this.resolutions = Object.freeze([...opts.resolutions]);
    this.levels = this.resolutions.length;
    this.stretchFactor = opts.stretchFactor ?? 1.15;
    this.maxShrinkFactor = opts.maxShrinkFactor ?? 4.0;
    this.thresholdRes = Object.freeze([...(opts.thresholdRes ?? [])].sort((a, b) => b - a));
    const width = this.bbox[2] - this.bbox[0];
    const height = this.bbox[3] - this.bbox[1];
    // MapProxy: max(ceil(W // res / tw), 1) — Python's float floor division, then a true division.
    this.gridSizes = Object.freeze(
      this.resolutions.map(
        (r): Size => [
          Math.max(Math.ceil(pyFloorDiv(width, r) / this.tileSize[0]), 1),
          Math.max(Math.ceil(pyFloorDiv(height, r) / this.tileSize[1]), 1),
        ],
      ),
    );
    this.profile = profileOf(this.srs, this.bbox);
  }

  resolution(level: number): number {
    this.#checkLevel(level);
    return this.resolutions[level];
  }

  tileBbox(coord: TileCoord): Bbox {
    const [x, y, z] = coord;
    const res = this.resolution(z);
    const [tw, th] = this.tileSize;
    const x0 = this.bbox[0] + pyRound(x * res * tw, 12);
    const x1 = x0 + pyRound(res * tw, 12);
    if (this.origin === 'ul') {
      const y1 = this.bbox[3] - pyRound(y * res * th, 12);
      return [x0, y1 - pyRound(res * th, 12), x1, y1];
    }
    const y0 = this.bbox[1] + pyRound(y * res * th, 12);
    return [x0, y0, x1, y0 + pyRound(res * th, 12)];
  }

  /** The union of the bboxes of the first and the last of `coords` (MapProxy's _tiles_bbox). */
  tilesBbox(coords: readonly TileCoord[]): Bbox {
    return mergeBbox(this.tileBbox(coords[0]), this.tileBbox(coords[coords.length - 1]));
  }

  limitTile(coord: TileCoord): TileCoord | null {
    const [x, y, z] = coord;
    if (!Number.isInteger(z) || z < 0 || z >= this.levels) return null;
    const [nx, ny] = this.gridSizes[z];
    if (x < 0 || y < 0 || x >= nx || y >= ny) return null;
    return coord;
  }

  /** The tile containing the point `(x, y)` at `level`, numbered from this grid's origin. */
  pointToTile(x: number, y: number, level: number): TileCoord {
    const res = this.resolution(level);
    const dx = x - this.bbox[0];
    const dy = this.origin === 'ul' ? this.bbox[3] - y : y - this.bbox[1];
    return [Math.floor(dx / (res * this.tileSize[0])), Math.floor(dy / (res * this.tileSize[1])), level];
  }

  closestLevel(res: number): number {
    const resolutions = this.resolutions;
    const thresholds = this.thresholdRes; // descending: MapProxy pops the largest first
    let prev = resolutions[0];
    let ti = 0;
    let threshold: number | undefined;
    if (thresholds.length > 0) {
      threshold = thresholds[ti++];
      // Thresholds above the first level can never separate two levels.
      while (threshold > prev && ti < thresholds.length) threshold = thresholds[ti++];
    }
    let withinStretch: number | undefined;
    for (let level = 0; level < resolutions.length; level++) {
      const l = resolutions[level];
      if (threshold !== undefined && prev > threshold && threshold >= l) {
        if (res > threshold) return level - 1;
        if (res >= l) return level;
        threshold = ti < thresholds.length ? thresholds[ti++] : undefined;
      }
      // A level within stretch_factor wins unless the next one is still not finer than asked.
      if (withinStretch !== undefined && l < res) return withinStretch;
      if (l <= res * this.stretchFactor) withinStretch = level;
      prev = l;
    }
    return resolutions.length - 1;
  }

  /**
   * The request bbox in grid units and the level that serves it.
   * @throws GridRequestError `no-intersection` or `too-coarse` (MapProxy's NoTiles: answer blank).
   */
  affectedBboxAndLevel(bbox: Bbox, size: Size, reqSrs?: Srs): { bbox: Bbox; level: number } {
    const src = reqSrs && !reqSrs.equals(this.srs) ? reqSrs.transformBboxTo(this.srs, bbox) : bbox;
    if (!bboxIntersects(this.bbox, src)) {
      throw new GridRequestError(`bbox ${src.join(',')} does not intersect grid ${this.name}`, 'no-intersection');
    }
    const res = requestResolution(src, size);
    const level = this.closestLevel(res);
    if (res > this.resolutions[0] * this.maxShrinkFactor) {
      throw new GridRequestError(
        `request resolution ${res} is coarser than ${this.maxShrinkFactor}× level 0 of grid ${this.name}`,
        'too-coarse',
      );
    }
    return { bbox: src, level };
  }

  affectedTiles(bbox: Bbox, size: Size, reqSrs?: Srs): AffectedTiles {
    const { bbox: src, level } = this.affectedBboxAndLevel(bbox, size, reqSrs);
    return this.affectedLevelTiles(src, level);
  }

  affectedLevelTiles(bbox: Bbox, level: number): AffectedTiles {
    // A tenth of a pixel off each side, so tiles the bbox only touches are not listed.
    const delta = this.resolution(level) / 10;
    const [x0, ya] = this.pointToTile(bbox[0] + delta, bbox[1] + delta, level);
    const [x1, yb] = this.pointToTile(bbox[2] - delta, bbox[3] - delta, level);
    return this.#tileRange(x0, x1, ya, yb, level);
  }

  /** Tiles x0..x1 by the rows between `ya` (from the bbox's min y) and `yb` (its max y), rows from the top. */
  #tileRange(x0: number, x1: number, ya: number, yb: number, level: number): AffectedTiles {
    const xs = range(x0, x1, 1);
    // On ul grids the bbox's min y gives the larger row number; rows go top (small y) down.
    const ys = this.origin === 'ul' ? range(yb, ya, 1) : range(yb, ya, -1);
    if (xs.length === 0 || ys.length === 0) {
      throw new GridRequestError(`invalid bbox for grid ${this.name} at level ${level}`, 'invalid-bbox');
    }
    const ll: TileCoord = [xs[0], ys[ys.length - 1], level];
    const ur: TileCoord = [xs[xs.length - 1], ys[0], level];
    const [nx, ny] = this.gridSizes[level];
    const tiles: Array<TileCoord | null> = [];
    for (const y of ys) {
      for (const x of xs) tiles.push(x < 0 || y < 0 || x >= nx || y >= ny ? null : [x, y, level]);
    }
    return { bbox: this.tilesBbox([ll, ur]), gridSize: [xs.length, ys.length], tiles };
  }

  flipTileCoord(coord: TileCoord): TileCoord {
    const [x, y, z] = coord;
    return [x, this.gridSizes[z][1] - 1 - y, z];
  }

  supportsAccessWithOrigin(origin: Origin): boolean {
    if (origin === this.origin) return true;
    this.#flippable ??= this.#computeFlippable();
    return this.#flippable;
  }

  #computeFlippable(): boolean {
    // Flipping is exact only when every level's rows end on the grid's top and bottom edge.
    const delta = Math.max(Math.abs(this.bbox[1]), Math.abs(this.bbox[3])) / 1e12;
    for (let level = 0; level < this.levels; level++) {
      const [nx, ny] = this.gridSizes[level];
      const b = this.tilesBbox([
        [0, 0, level],
        [nx - 1, ny - 1, level],
      ]);
      if (Math.abs(this.bbox[1] - b[1]) > delta || Math.abs(this.bbox[3] - b[3]) > delta) return false;
    }
    return true;
  }

  /** Tile (0, 0) of `level` counted from `origin`, in this grid's numbering. */
  originTile(level: number, origin: Origin): TileCoord {
    if (!this.supportsAccessWithOrigin(origin)) {
      throw new RangeError(`grid ${this.name} cannot be addressed with origin ${origin}`);
    }
    return this.coordFromOrigin([0, 0, level], origin);
  }

  coordFromOrigin(coord: TileCoord, origin: Origin): TileCoord {
    return origin === this.origin ? coord : this.flipTileCoord(coord);
  }

  isSubsetOf(other: TileGrid): boolean {
    if (!this.srs.equals(other.srs)) return false;
    if (this.tileSize[0] !== other.tileSize[0] || this.tileSize[1] !== other.tileSize[1]) return false;
    for (let level = 0; level < this.levels; level++) {
      const [nx, ny] = this.gridSizes[level];
      const levelSize: Size = [nx * this.tileSize[0], ny * this.tileSize[1]];
      const levelBbox = this.tilesBbox([
        [0, 0, level],
        [nx - 1, ny - 1, level],
      ]);
      let otherLevel: number;
      try {
        otherLevel = other.affectedBboxAndLevel(levelBbox, levelSize).level;
      } catch (err) {
        if (err instanceof GridRequestError) return false;
        throw err;
      }
      if (other.resolution(otherLevel) !== this.resolutions[level]) return false;
      // The bbox of the other grid's tiles covering this level, from its two corner tiles only:
      // listing every tile (affectedLevelTiles) costs 4^level and made start-up run out of memory.
      const delta = other.resolution(otherLevel) / 10;
      const a = other.pointToTile(levelBbox[0] + delta, levelBbox[1] + delta, otherLevel);
      const b = other.pointToTile(levelBbox[2] - delta, levelBbox[3] - delta, otherLevel);
      if (other.limitTile(a) === null || other.limitTile(b) === null) return false;
      if (!bboxEquals(other.tilesBbox([a, b]), levelBbox)) return false;
    }
    return true;
  }

  toString(): string {
    return `TileGrid(${this.name}, ${this.srs.code}, ${this.bbox.map((v) => v.toFixed(4)).join(', ')})`;
  }

  #checkLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level >= this.levels) {
      throw new GridRequestError(`level ${level} is outside grid ${this.name} (0-${this.levels - 1})`, 'invalid-level');
    }
  }
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  if (step > 0) for (let v = from; v <= to; v += step) out.push(v);
  else for (let v = from; v >= to; v += step) out.push(v);
  return out;
}

function profileOf(srs: Srs, bbox: Bbox): TileGrid['profile'] {
  const eq = (b: readonly number[]) => bbox.every((v, i) => v === b[i]);
  if (srs.srsKey === 'EPSG:3857' && eq([-MERCATOR_EXTENT, -MERCATOR_EXTENT, MERCATOR_EXTENT, MERCATOR_EXTENT])) {
    return 'global-mercator';
  }
  if (srs.srsKey === 'EPSG:4326' && eq([-180, -90, 180, 90])) return 'global-geodetic';
  return 'local';
}
