/**
 * MapProxy's three built-in grids (REFERENCE.md §2.2): their configuration entries, which every
 * `grids:` section implicitly contains and may use as `base`, and ready-made instances with the
 * default tile size, stretch and shrink factors.
 */
import { createTileGrid } from './create.js';
import type { GridConfig } from './build.js';
import type { TileGrid } from './types.js';

/** The `grids:` entries MapProxy adds to every configuration (a user grid of the same name replaces one). */
export const DEFAULT_GRID_CONFIGS: Readonly<Record<string, Readonly<GridConfig>>> = Object.freeze({
  GLOBAL_GEODETIC: Object.freeze({ srs: 'EPSG:4326', origin: 'sw', name: 'GLOBAL_GEODETIC' }),
  GLOBAL_MERCATOR: Object.freeze({ srs: 'EPSG:900913', origin: 'sw', name: 'GLOBAL_MERCATOR' }),
  GLOBAL_WEBMERCATOR: Object.freeze({ srs: 'EPSG:3857', origin: 'nw', name: 'GLOBAL_WEBMERCATOR' }),
});

/** EPSG:4326, bbox -180,-90,180,90, origin ll, 20 levels from 1.40625 (level 0 is one tile reaching 270° north). */
export const GLOBAL_GEODETIC: TileGrid = createTileGrid({ name: 'GLOBAL_GEODETIC', srs: 'EPSG:4326', origin: 'sw' });

/** EPSG:900913, the Mercator square, origin ll, 20 levels from 156543.03392804097. */
export const GLOBAL_MERCATOR: TileGrid = createTileGrid({ name: 'GLOBAL_MERCATOR', srs: 'EPSG:900913', origin: 'sw' });

/** EPSG:3857, the Mercator square, origin ul (the OSM/Google numbering), 20 levels. */
export const GLOBAL_WEBMERCATOR: TileGrid = createTileGrid({
  name: 'GLOBAL_WEBMERCATOR',
  srs: 'EPSG:3857',
  origin: 'nw',
});
