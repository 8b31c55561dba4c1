/**
 * Shared geometry types and the contracts of the grid folder: spatial reference systems, tile grids
 * and meta grids. Implementations live in `srs.ts`, `tile-grid.ts`, `meta-grid.ts`; everything else
 * in src/ depends only on these shapes. Behaviour follows MapProxy (REFERENCE.md §2.2–2.5).
 */

/** `[minx, miny, maxx, maxy]` in the units of an SRS, always in x/y (east/north) order. */
export type Bbox = readonly [number, number, number, number];

/** A tile address `[x, y, z]` in a grid's own numbering (y depends on the grid origin). */
export type TileCoord = readonly [number, number, number];

/** `[width, height]` in pixels, or `[columns, rows]` for grid sizes. */
export type Size = readonly [number, number];

/** Where tile row 0 is: `ll` (south-west, MapProxy's default) or `ul` (north-west). */
export type Origin = 'll' | 'ul';

/** A spatial reference system (proj4 under the hood). Instances are cached and compared by identity of `srsKey`. */
export interface Srs {
  /** The code as configured, upper case: `EPSG:3857`, `CRS:84`. */
  readonly code: string;
  /** Canonical key: aliases of the same CRS share it (`EPSG:900913` and `EPSG:3857` both give `EPSG:3857`). */
  readonly srsKey: string;
  /** True for geographic (degree) systems. */
  readonly isLatLong: boolean;
  /** True when WMS 1.3.0 and WMTS write this CRS's coordinates north/east (EPSG:4326, 4258, …). */
  readonly isAxisOrderNE: boolean;
  /** Same CRS (aliases count as equal; CRS:84 equals EPSG:4326). */
  equals(other: Srs): boolean;
  /** Transform points from this SRS to `other`. */
  transformTo(other: Srs, points: ReadonlyArray<readonly [number, number]>): Array<[number, number]>;
  /** Transform a bbox through an envelope of `segments` points per edge (MapProxy uses 16). */
  transformBboxTo(other: Srs, bbox: Bbox, segments?: number): Bbox;
  /** Swap a bbox between x/y order and this SRS's axis order for WMS 1.3.0 (identity when EN). */
  alignBboxAxis(bbox: Bbox): Bbox;
}

/** The result of `TileGrid.affectedTiles`. */
export interface AffectedTiles {
  /** The bbox the listed tiles cover together. */
  readonly bbox: Bbox;
  /** `[columns, rows]` of the tile block. */
  readonly gridSize: Size;
  /** Tiles row by row from the top row to the bottom row, left to right; `null` outside the grid. */
  readonly tiles: ReadonlyArray<TileCoord | null>;
}

/**
 * A tile pyramid: SRS, bbox, origin, tile size and one resolution per level (MapProxy's TileGrid).
 * Levels are numbered 0..levels-1; level 0 is the coarsest.
 */
export interface TileGrid {
  /** Grid name (`GLOBAL_WEBMERCATOR`, the config key, or its `name:`). Used as the WMTS matrix set id. */
  readonly name: string;
  readonly srs: Srs;
  readonly bbox: Bbox;
  readonly origin: Origin;
  readonly tileSize: Size;
  /** Resolutions in SRS units per pixel, descending. */
  readonly resolutions: readonly number[];
  /** `[columns, rows]` per level: `max(ceil(floor(W/res)/tw), 1)` (§2.4). */
  readonly gridSizes: readonly Size[];
  readonly levels: number;
  readonly stretchFactor: number;
  readonly maxShrinkFactor: number;
  /** Sorted descending; empty when none. */
  readonly thresholdRes: readonly number[];
  /** True for grids whose SRS/bbox is one of the TMS global profiles. */
  readonly profile: 'global-mercator' | 'global-geodetic' | 'local';

  resolution(level: number): number;
  /** The bbox of a tile, every product rounded to 12 decimals as MapProxy does. */
  tileBbox(coord: TileCoord): Bbox;
  /** The coord if it lies inside the grid (level and x/y in range), else null. */
  limitTile(coord: TileCoord): TileCoord | null;
  /** Level for a request resolution (stretch_factor, threshold_res; §2.4). */
  closestLevel(res: number): number;
  /**
   * Tiles needed to render `bbox` at `size` pixels (in this grid's SRS, or in `reqSrs` when given);
   * throws when the request is too coarse or misses the grid.
   */
  affectedTiles(bbox: Bbox, size: Size, reqSrs?: Srs): AffectedTiles;
  /**
   * The request bbox in grid units and the level serving it (MapProxy's get_affected_bbox_and_level);
   * throws GridRequestError (`no-intersection`, `too-coarse`) where MapProxy answers blank.
   */
  affectedBboxAndLevel(bbox: Bbox, size: Size, reqSrs?: Srs): { bbox: Bbox; level: number };
  /** The tile containing the point `(x, y)` at `level`, in this grid's numbering (may lie outside the grid). */
  pointToTile(x: number, y: number, level: number): TileCoord;
  /** Union of the bboxes of the first and last of `coords` (all on one level). */
  tilesBbox(coords: readonly TileCoord[]): Bbox;
  /** Tile (0, 0) of `level` counted from `origin`, in this grid's numbering (WMTS TopLeftCorner uses 'ul'). */
  originTile(level: number, origin: Origin): TileCoord;
  /** Tiles of one level that intersect `bbox` (shrunk by res/10 per side, as MapProxy does). */
  affectedLevelTiles(bbox: Bbox, level: number): AffectedTiles;
  /** `y' = rows(z) - 1 - y`. */
  flipTileCoord(coord: TileCoord): TileCoord;
  /** Whether tiles can be addressed with the other origin (every level ends on the grid's top and bottom). */
  supportsAccessWithOrigin(origin: Origin): boolean;
  /** Convert a coord given with `origin` into this grid's own numbering (flip when origins differ). */
  coordFromOrigin(coord: TileCoord, origin: Origin): TileCoord;
  /** True when every tile of this grid is a tile of `other` (same SRS, tile size, aligned resolutions and bbox). */
  isSubsetOf(other: TileGrid): boolean;
}

/** One tile of a meta tile and where it sits in the meta image. */
export interface MetaTilePart {
  readonly coord: TileCoord;
  /** Pixel offset `[x, y]` of the tile's top-left corner in the meta image. */
  readonly offset: Size;
}

/** A block of tiles fetched with one upstream request (§2.5). */
export interface MetaTile {
  /** The tile that names the meta tile (its lock key): `(⌊x/mx⌋·mx, ⌊y/my⌋·my, z)`. */
  readonly main: TileCoord;
  /**
   * The first in-grid tile of `parts` (top-left): MapProxy's `main_tile_coord`, which names the
   * meta tile's lock file (`<id>-<x>-<y>-<z>.lck`). On `ll` grids it differs from `main`.
   */
  readonly lockCoord: TileCoord;
  /** `[columns, rows]` of tiles in this meta tile, out-of-grid ones included. */
  readonly gridSize: Size;
  /** Buffer in pixels actually added on each side `[left, bottom, right, top]` (shrunk at the grid edge). */
  readonly buffers: readonly [number, number, number, number];
  /** The request bbox including the buffer, clamped to the grid bbox. */
  readonly bbox: Bbox;
  /** Pixel size of the request. */
  readonly size: Size;
  /** In-grid tiles, row by row from the top, with their offsets. */
  readonly parts: readonly MetaTilePart[];
}

/** Meta tiling over a TileGrid: `meta_size` tiles per request plus `meta_buffer` pixels on each side. */
export interface MetaGrid {
  readonly grid: TileGrid;
  readonly metaSize: Size;
  readonly metaBuffer: number;
  /** The main tile of the meta tile that contains `coord`. */
  mainTile(coord: TileCoord): TileCoord;
  metaTile(coord: TileCoord): MetaTile;
  /** The smallest meta request covering exactly `coords` (plus buffer): minimize_meta_requests. */
  minimalMetaTile(coords: readonly TileCoord[]): MetaTile;
  /** Main tiles of the meta tiles of one level that intersect `bbox`, rows from the top (seeding). */
  affectedLevelTiles(bbox: Bbox, level: number): AffectedTiles;
}
