/**
 * The extent MapProxy gives a cache (and so the WGS84BoundingBox of its WMTS layers): the union
 * of its sources' coverages, or its grid's bbox when no source has one. Follows MapProxy 1.15's
 * `MapExtent`, `merge_layer_extents` and `CacheConfiguration.caches` (mapproxy/layer.py,
 * mapproxy/config/loader.py).
 */
import type { Bbox, Srs, TileGrid } from '../grid/types.js';
import type { Source } from '../source/types.js';

/** A bbox in its SRS (MapProxy's `MapExtent`). */
export interface Extent {
  readonly bbox: Bbox;
  readonly srs: Srs;
}

/** Sources whose extent is not their coverage: a cache used as a source (see `cacheSourceExtent`). */
export interface WithExtent {
  readonly extent?: Extent;
}

/**
 * The extent of a cache on `grid` over `sources`. MapProxy: sources without a coverage cover
 * "everything" and do not widen the union (`DefaultMapExtent` adds as nothing); one extent stays
 * in its own SRS, several are merged in EPSG:4326; none gives the grid's bbox.
 */
export function cacheExtent(grid: TileGrid, sources: readonly Source[], epsg4326: Srs): Extent {
  const extents = sources.flatMap((s): Extent[] => {
    const e = s.coverage ?? (s as WithExtent).extent;
    return e ? [e] : [];
  });
  if (extents.length === 0) return { bbox: grid.bbox, srs: grid.srs };
  // merge_layer_extents pops the last one and adds the others to it, in order.
  let merged = extents[extents.length - 1];
  for (const e of extents.slice(0, -1)) {
    const a = merged.srs.transformBboxTo(epsg4326, merged.bbox);
    const b = e.srs.transformBboxTo(epsg4326, e.bbox);
    merged = { bbox: [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])], srs: epsg4326 };
  }
  return merged;
}

/**
 * The extent of a one-grid cache used as the source of another: its own extent cut to `grid`, the
 * grid of the cache using it (MapProxy's `CacheConfiguration.source(tile_grid=…)`,
 * `extent.intersection(map_extent_from_grid(tile_grid))`). Undefined when they do not intersect.
 */
export function cacheSourceExtent(own: Extent, grid: TileGrid): Extent | undefined {
  const g = grid.srs.transformBboxTo(own.srs, grid.bbox);
  const b = own.bbox;
  if (b[0] >= g[2] || b[2] <= g[0] || b[1] >= g[3] || b[3] <= g[1]) return undefined;
  return { bbox: [Math.max(b[0], g[0]), Math.max(b[1], g[1]), Math.min(b[2], g[2]), Math.min(b[3], g[3])], srs: own.srs };
}
