/**
 * MapProxy's defaults for what a mapproxy.yaml leaves out (REFERENCE.md §3, MapProxy's
 * `config/defaults.py`), and how config-relative paths are resolved (§2.1).
 */
import path from 'node:path';

/** Default values, by what they configure. Paths are relative to the main config file's directory. */
export const DEFAULTS = Object.freeze({
  /** globals.cache.base_dir */
  baseDir: './cache_data',
  /** globals.cache.lock_dir (concurrent_requests slots of sources) */
  lockDir: './cache_data/tile_locks',
  /** globals.cache.meta_size */
  metaSize: Object.freeze([4, 4]) as readonly [number, number],
  /** globals.cache.meta_buffer, in pixels */
  metaBuffer: 80,
  /** globals.cache.bulk_meta_tiles */
  bulkMetaTiles: false,
  /** globals.cache.minimize_meta_requests */
  minimizeMetaRequests: false,
  /** globals.cache.concurrent_tile_creators */
  concurrentTileCreators: 2,
  /** globals.cache.max_tile_limit: most tiles one WMS request may need from a cache */
  maxTileLimit: 500,
  /** globals.cache.link_single_color_images */
  linkSingleColorImages: false,
  /** caches.*.format */
  cacheFormat: 'image/png',
  /** caches.*.grids */
  cacheGrids: Object.freeze(['GLOBAL_MERCATOR']) as readonly string[],
  /** caches.*.cache.type */
  cacheType: 'file',
  /** caches.*.cache.directory_layout of file caches */
  directoryLayout: 'tc',
  /** globals.http.client_timeout, in seconds */
  clientTimeout: 60,
  /** globals.http.method */
  httpMethod: 'AUTO',
  /** globals.http.hide_error_details */
  hideErrorDetails: true,
  /** globals.http.access_control_allow_origin */
  accessControlAllowOrigin: '*',
  /** globals.http.concurrent_requests (0 = no limit) */
  concurrentRequests: 0,
  /** globals.tiles.expires_hours */
  expiresHours: 72,
  /** globals.image.jpeg_quality */
  jpegQuality: 90,
  /** globals.image.resampling_method */
  resampling: 'bicubic',
  /** globals.image.paletted */
  paletted: true,
  /** globals.image.stretch_factor */
  stretchFactor: 1.15,
  /** globals.image.max_shrink_factor */
  maxShrinkFactor: 4,
  /** sources.*.image.transparent_color_tolerance */
  transparentColorTolerance: 5,
  /** globals.grid.tile_size */
  tileSize: Object.freeze([256, 256]) as readonly [number, number],
  /** grids.*.srs */
  gridSrs: 'EPSG:900913',
  /** grids.*.origin (MapProxy warns it will change to nw) */
  gridOrigin: 'll',
  /** grids.*.res_factor */
  resFactor: 2,
  /** grids.*.num_levels (40 with res_factor sqrt2) */
  numLevels: 20,
  /** sources.*.wms_opts.version */
  wmsVersion: '1.1.1',
  /** sources (tile).grid */
  tileSourceGrid: 'GLOBAL_MERCATOR',
  /** services.wmts.kvp / restful */
  wmtsKvp: true,
  wmtsRestful: true,
  /** services.wmts.restful_template */
  wmtsRestfulTemplate: '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}',
});

/** The grids every configuration has (a user grid of the same name replaces one). */
export const DEFAULT_GRID_NAMES: readonly string[] = Object.freeze(['GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']);

/** SRS whose grids may leave out `bbox` (MapProxy knows their extent). */
export const SRS_WITH_DEFAULT_BBOX: readonly string[] = Object.freeze([
  'EPSG:4326',
  'CRS:84',
  'EPSG:900913',
  'EPSG:3857',
  'EPSG:102100',
  'EPSG:102113',
]);

/**
 * Resolve a path from the configuration: absolute paths stay, relative ones are relative to `dir`,
 * the directory of the main configuration file (MapProxy joins them onto it).
 */
export function resolvePath(dir: string, p: string): string {
  return path.resolve(dir, p);
}

/** The default `tile_lock_dir` of a cache: `<cache_dir>/tile_locks`. */
export function defaultTileLockDir(cacheDir: string): string {
  return path.join(cacheDir, 'tile_locks');
}
