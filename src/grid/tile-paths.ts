/**
 * Path formulas of tile addresses shared by the file cache layouts and the tile source URL
 * templates (REFERENCE.md §2.6): tc, tms, ArcGIS exploded cache and quadkey. Pure arithmetic on
 * a TileCoord; checked against paths printed by MapProxy 1.15 (test/unit/cache/layouts.test.ts).
 */
import type { TileCoord } from './types.js';

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * The TileCache path of a tile without extension: `zz/xxx/xxx/xxx/yyy/yyy/yyy`. Integer divisions
 * truncate, so x ≥ 1e9 gives a first group wider than three digits, as in MapProxy.
 *
 * @example tcPath([1234567, 87654321, 9]) === '09/001/234/567/087/654/321'
 */
export function tcPath(coord: TileCoord): string {
  const [x, y, z] = coord;
  return (
    pad(z, 2) + '/' +
    pad(Math.trunc(x / 1e6), 3) + '/' + pad(Math.trunc(x / 1e3) % 1000, 3) + '/' + pad(x % 1000, 3) + '/' +
    pad(Math.trunc(y / 1e6), 3) + '/' + pad(Math.trunc(y / 1e3) % 1000, 3) + '/' + pad(y % 1000, 3)
  );
}

/** The TMS path of a tile without extension: `z/x/y`, nothing padded. */
export function tmsPath(coord: TileCoord): string {
  return `${coord[2]}/${coord[0]}/${coord[1]}`;
}

/**
 * The ArcGIS exploded-cache path without extension: `Lzz/Rrrrrrrrr/Ccccccccc`, row and column in
 * lower-case hex of at least 8 digits.
 *
 * @example arcgisCachePath([1234567, 87654321, 9]) === 'L09/R05397fb1/C0012d687'
 */
export function arcgisCachePath(coord: TileCoord): string {
  return `L${pad(coord[2], 2)}/R${hex8(coord[1])}/C${hex8(coord[0])}`;
}

/**
 * The Bing Maps quadkey of a tile: one digit per level from the coarsest, bit i of x adds 1 and
 * bit i of y adds 2. Level 0 gives the empty string.
 *
 * @example quadkey([3, 4, 2]) === '11'
 */
export function quadkey(coord: TileCoord): string {
  const [x, y, z] = coord;
  let key = '';
  // Division instead of bit operators: coordinates beyond 2^31 (levels above 31) stay exact.
  for (let i = z - 1; i >= 0; i--) {
    const bit = 2 ** i;
    key += String((Math.floor(x / bit) % 2) + 2 * (Math.floor(y / bit) % 2));
  }
  return key;
}

