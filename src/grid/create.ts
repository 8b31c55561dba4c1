/**
 * `createTileGrid`: a TileGrid from grid options as MapProxy's `tile_grid()` takes them — default
 * bboxes of the global SRSs, `bbox_srs` transformation, and the resolution rules of
 * resolutions.ts. Inputs are assumed valid; build.ts checks configuration and names YAML paths.
 */
import { getSrs } from './srs.js';
import { alignedResolutions, computeResolutions, sortedResolutions, type ResFactor } from './resolutions.js';
import { MERCATOR_EXTENT, TileGridImpl, parseOrigin } from './tile-grid.js';
import type { Bbox, Size, Srs, TileGrid } from './types.js';

/** Options of `createTileGrid` (the keys of a `grids:` entry, resolved). */
export interface TileGridSpec {
  readonly name: string;
  /** Default EPSG:900913, as in MapProxy. */
  readonly srs?: string | Srs;
  readonly bbox?: Bbox;
  /** The SRS `bbox` is given in; it is transformed into the grid SRS (16 points per edge). */
  readonly bboxSrs?: string | Srs;
  readonly tileSize?: Size;
  readonly res?: readonly number[];
  readonly resFactor?: ResFactor;
  readonly numLevels?: number;
  readonly minRes?: number;
  readonly maxRes?: number;
  readonly thresholdRes?: readonly number[];
  readonly stretchFactor?: number;
  readonly maxShrinkFactor?: number;
  readonly alignWith?: TileGrid;
  /** `ll`/`sw` (default) or `ul`/`nw`. */
  readonly origin?: string;
}

const MERCATOR_BBOX: Bbox = [-MERCATOR_EXTENT, -MERCATOR_EXTENT, MERCATOR_EXTENT, MERCATOR_EXTENT];

/**
 * The bbox MapProxy assumes when a grid has none: the whole world for EPSG:4326 and the Mercator
 * square for EPSG:900913/3857/102100/102113 (by code: CRS:84 has no default).
 */
export function defaultBbox(srs: Srs): Bbox | undefined {
  if (srs.code === 'EPSG:4326') return [-180, -90, 180, 90];
  if (['EPSG:900913', 'EPSG:3857', 'EPSG:102100', 'EPSG:102113'].includes(srs.code)) return MERCATOR_BBOX;
  return undefined;
}

/**
 * Build a grid the way MapProxy's `tile_grid()` does.
 * @throws RangeError when the SRS has no default bbox and none is given, or no resolution results.
 */
export function createTileGrid(spec: TileGridSpec): TileGridImpl {
  const srs = typeof spec.srs === 'object' ? spec.srs : getSrs(spec.srs ?? 'EPSG:900913');
  const tileSize: Size = spec.tileSize ?? [256, 256];
  let bbox = spec.bbox ?? defaultBbox(srs);
  if (!bbox) throw new RangeError(`need a bbox for grid ${spec.name} with ${srs.code}`);
  if (spec.bboxSrs !== undefined) {
    const from = typeof spec.bboxSrs === 'object' ? spec.bboxSrs : getSrs(spec.bboxSrs);
    bbox = from.transformBboxTo(srs, bbox);
  }
  const common = {
    bbox,
    tileSize,
    resFactor: spec.resFactor,
    numLevels: spec.numLevels,
    minRes: spec.minRes,
    maxRes: spec.maxRes,
  };
  let resolutions: number[];
  if (spec.res && spec.res.length > 0) resolutions = sortedResolutions(spec.res);
  else if (spec.alignWith) resolutions = alignedResolutions(spec.alignWith.resolutions, common);
  else resolutions = computeResolutions(common);
  if (resolutions.length === 0) throw new RangeError(`grid ${spec.name} has no resolutions`);
  return new TileGridImpl({
    name: spec.name,
    srs,
    bbox,
    resolutions,
    origin: parseOrigin(spec.origin),
    tileSize,
    stretchFactor: spec.stretchFactor,
    maxShrinkFactor: spec.maxShrinkFactor,
    thresholdRes: spec.thresholdRes,
  });
}
