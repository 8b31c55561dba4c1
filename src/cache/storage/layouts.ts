/**
 * Tile paths of the file cache: the six directory layouts (`tc`, `mp`, `tms`, `reverse_tms`,
 * `quadkey`, `arcgis`), level directories for cleanup, dimension sub-paths, and the pure path
 * formulas the tile source uses in URL templates (`%(tc_path)s`, `%(tms_path)s`,
 * `%(arcgiscache_path)s`, `%(quadkey)s`). Every path is byte-identical to MapProxy's
 * (REFERENCE.md §2.6), so a cache seeded by one is served by the other.
 *
 * The URL helpers (`tcPath`, `tmsPath`, `arcgisCachePath`, `quadkey`) are pure functions of a
 * coordinate and belong in `grid/` eventually, since `source/` may not import `cache/`.
 */
import path from 'node:path';
import { RequestError } from '../../errors.js';
import type { TileCoord } from '../../grid/types.js';
import { tcPath, tmsPath, arcgisCachePath, quadkey } from '../../grid/tile-paths.js';

export { tcPath, tmsPath, arcgisCachePath, quadkey };

/** The directory layouts of the file cache (MapProxy's `directory_layout`). */
export type FileLayout = 'tc' | 'mp' | 'tms' | 'reverse_tms' | 'quadkey' | 'arcgis';

/** All layouts, in MapProxy's documentation order; `tc` is the default. */
export const FILE_LAYOUTS: readonly FileLayout[] = ['tc', 'mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis'];

/** Dimension values of a tile (`time`, `elevation`, `dim_*`), as WMTS dimensions give them. */
export type Dimensions = Readonly<Record<string, string | number>>;

/** True when `name` is a layout this cache knows. */
export function isFileLayout(name: string): name is FileLayout {
  return (FILE_LAYOUTS as readonly string[]).includes(name);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function checkCoord(coord: TileCoord): void {
  const [x, y, z] = coord;
  // A negative or fractional coordinate would give a path MapProxy never writes; the grid
  // rejects such tiles long before, so this only guards against programming errors.
  if (!(Number.isSafeInteger(x) && Number.isSafeInteger(y) && Number.isSafeInteger(z) && x >= 0 && y >= 0 && z >= 0)) {
    throw new RangeError(`invalid tile coordinate [${coord.join(', ')}]: x, y and z must be integers >= 0`);
  }
}

/** MapProxy 7.0 refuses dimension values that could lead out of the cache dir. */
function checkDimensionValue(key: string, value: string): void {
  const part = `${key}-${value}`;
  if (value.includes('..') || path.posix.normalize(part) !== part || value.includes('\\') || value.includes('\0')) {
    // The value comes from a client request (WMTS/WMS dimension parameter), so it is a 400.
    throw new RequestError(`invalid value ${JSON.stringify(value)} for dimension ${key}`, {
      ogcCode: 'InvalidParameterValue',
      locator: key,
    });
  }
}

/**
 * The sub-path of a set of dimension values, inserted before the level directory: the known
 * dimensions (`elevation`, `time`, …) first, then the `dim_*` ones, each group sorted, keys lower
 * case, each part `key-value`. Empty for no dimensions.
 *
 * @example dimensionsPart({ time: '2020-08-25T00:00:00Z', dim_level: '700' }) === 'time-2020-08-25T00:00:00Z/dim_level-700'
 * @throws RequestError (400, InvalidParameterValue) for a value that would change under path
 *   normalisation or contains `..` (MapProxy 7.0's path-traversal check).
 */
export function dimensionsPart(dimensions: Dimensions | undefined): string {
  if (!dimensions) return '';
  // MapProxy keys dimensions case-insensitively (lower-cased); a later duplicate key wins.
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(dimensions)) values.set(key.toLowerCase(), String(value));
  if (values.size === 0) return '';
  const known: string[] = [];
  const custom: string[] = [];
  for (const key of values.keys()) (key.startsWith('dim_') ? custom : known).push(key);
  const keys = [...known.sort(), ...custom.sort()];
  return keys
    .map((key) => {
      const value = values.get(key) as string;
      checkDimensionValue(key, value);
      return `${key}-${value}`;
    })
    .join('/');
}

function withDimensions(dimensions: Dimensions | undefined, rest: string): string {
  const dims = dimensionsPart(dimensions);
  return dims ? `${dims}/${rest}` : rest;
}

/**
 * The path of a tile under the cache root, with `/` separators and no leading slash.
 *
 * `tc`, `mp`, `tms` and `reverse_tms` put a dimension sub-path first; `quadkey` and `arcgis` do
 * not support dimensions (MapProxy ignores them there, which mixes tiles of different values in
 * one file), so passing dimensions with them throws.
 *
 * @param layout the directory layout
 * @param coord the grid's internal x/y/z (so the grid origin matters)
 * @param ext file extension without dot (`png`, `jpeg`, `mixed`)
 * @throws RangeError for a negative or fractional coordinate or dimensions with `quadkey`/`arcgis`;
 *   RequestError for a dimension value that would escape the cache dir.
 */
export function tilePath(layout: FileLayout, coord: TileCoord, ext: string, dimensions?: Dimensions): string {
  checkCoord(coord);
  switch (layout) {
    case 'tc':
      return withDimensions(dimensions, `${tcPath(coord)}.${ext}`);
    case 'mp': {
      const [x, y, z] = coord;
      const rel =
        pad(z, 2) + '/' + pad(Math.trunc(x / 1e4), 4) + '/' + pad(x % 1e4, 4) + '/' +
        pad(Math.trunc(y / 1e4), 4) + '/' + pad(y % 1e4, 4) + '.' + ext;
      return withDimensions(dimensions, rel);
    }
    case 'tms':
      return withDimensions(dimensions, `${tmsPath(coord)}.${ext}`);
    case 'reverse_tms':
      return withDimensions(dimensions, `${coord[1]}/${coord[0]}/${coord[2]}.${ext}`);
    case 'quadkey':
      noDimensions(layout, dimensions);
      return `${quadkey(coord)}.${ext}`;
    case 'arcgis':
      noDimensions(layout, dimensions);
      return `${arcgisCachePath(coord)}.${ext}`;
    default:
      throw unknownLayout(layout);
  }
}

function noDimensions(layout: FileLayout, dimensions: Dimensions | undefined): void {
  if (dimensions && Object.keys(dimensions).length > 0) {
    throw new RangeError(`directory_layout ${layout} does not support dimensions`);
  }
}

function unknownLayout(layout: never): Error {
  return new RangeError(`unknown directory_layout "${String(layout)}" (expected one of ${FILE_LAYOUTS.join(', ')})`);
}

/**
 * The directory holding every tile of one level, relative to the cache root, for level-wise
 * cleanup; null for layouts without level directories (`quadkey`, `reverse_tms`).
 *
 * `tc` and `mp`: `zz`; `arcgis`: `Lzz`; `tms`: the unpadded `z` — where its tiles really are.
 * (MapProxy 1.15 returns the padded `zz` for `tms` too, so its level cleanup misses levels 0–9;
 * REFERENCE.md §2.6 asks for the directory the tiles are in.)
 */
export function levelLocation(layout: FileLayout, level: number, dimensions?: Dimensions): string | null {
  switch (layout) {
    case 'tc':
    case 'mp':
      return withDimensions(dimensions, pad(level, 2));
    case 'tms':
      return withDimensions(dimensions, String(level));
    case 'arcgis':
      noDimensions(layout, dimensions);
      return `L${pad(level, 2)}`;
    case 'quadkey':
    case 'reverse_tms':
      return null;
    default:
      throw unknownLayout(layout);
  }
}
