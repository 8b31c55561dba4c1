/**
 * Pieces shared by the tile services (TMS, /tiles, WMTS): the tile answer with its HTTP caching
 * data, strict integer parsing of tile addresses, and the format check every service applies
 * before fetching a tile.
 */
import type { TileCoord } from '../grid/types.js';
import type { ServiceResponse, TileLayer, TileResult } from './types.js';

/** `globals.tiles.expires_hours` default (72 h) in seconds. */
export const DEFAULT_TILE_MAX_AGE = 72 * 3600;

// Shared, never mutated: the hot path allocates no header object for X-Cache.
const X_CACHE_HIT: Readonly<Record<string, string>> = Object.freeze({ 'X-Cache': 'HIT' });
const X_CACHE_MISS: Readonly<Record<string, string>> = Object.freeze({ 'X-Cache': 'MISS' });

/**
 * A tile as an HTTP answer: cacheable tiles carry mtime/size/max-age, others `no-cache`. With
 * `xCache` (default on; beyond MapProxy) the answer says `X-Cache: HIT` for a tile read from the
 * cache and `X-Cache: MISS` for one created for this request (or whose origin is unknown).
 */
export function tileResponse(tile: TileResult, maxAge: number, xCache = true): ServiceResponse {
  return {
    status: 200,
    contentType: tile.mime,
    body: tile.data,
    cache: tile.cacheable
      ? { mtime: tile.mtime, ...(tile.mtimeSec === undefined ? {} : { mtimeSec: tile.mtimeSec }), size: tile.data.length, maxAge, validators: tile.held?.validators }
      : 'no-cache',
    headers: xCache ? (tile.fromCache === true ? X_CACHE_HIT : X_CACHE_MISS) : undefined,
    replay:
      (tile.held || tile.file) && tile.cacheable && tile.fromCache === true ? { held: tile.held, file: tile.file, cache: tile.cache } : undefined,
  };
}

const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Parse an integer the way Python's `int()` reads KVP values (`08`, ` 8`, `+8`); NaN otherwise. */
export function parseInteger(text: string): number {
  return INTEGER.test(text) ? Number.parseInt(text, 10) : Number.NaN;
}

/** The MapProxy message for a tile format the layer does not serve. */
export function invalidFormatMessage(requested: string, layer: TileLayer): string {
  return `invalid format (${requested}). this tile set only supports (${layer.extension})`;
}

/** The MIME type a layer advertises: `mixed` layers are announced as PNG, as MapProxy does. */
export function advertisedMime(layer: TileLayer): string {
  return layer.format === 'mixed' ? 'image/png' : layer.format;
}

/** Flip a coord when the client counts rows from the other side than the grid does. */
export function fromClientOrigin(layer: TileLayer, coord: TileCoord, clientOrigin: 'sw' | 'nw' | undefined): TileCoord {
  if (clientOrigin === 'nw' && layer.grid.origin !== 'ul') return layer.grid.flipTileCoord(coord);
  if (clientOrigin === 'sw' && layer.grid.origin !== 'll') return layer.grid.flipTileCoord(coord);
  return coord;
}
