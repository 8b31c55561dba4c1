/**
 * Test helpers for the tile services: a TileLayer over a real grid whose getTile answers with the
 * bytes `x,y,z` of the internal coord it was asked for (so a test proves which tile the service
 * requested), and ServiceRequests built without HTTP.
 */
import type { Bbox, TileCoord, TileGrid } from '../../../src/grid/index.js';
import type { QueryParams, ServiceRequest, TileLayer, TileResult } from '../../../src/service/index.js';
import { parseQuery } from '../../../src/app/params.js';

/** Tile timestamp used by every test layer: 2026-11-23T19:42:08.250Z. */
export const TILE_MTIME = Date.UTC(2026, 10, 23, 19, 42, 8, 250);

export interface TestLayerOptions {
  readonly title?: string;
  readonly format?: string;
  readonly extension?: string;
  readonly wgs84Bbox?: Bbox;
  readonly cacheable?: boolean;
  /** Thrown by getTile instead of answering. */
  readonly error?: unknown;
}

/** A TileLayer whose tiles are the text `x,y,z` of the requested internal coord. */
export interface RecordingLayer extends TileLayer {
  readonly calls: TileCoord[];
}

export function testLayer(name: string, grid: TileGrid, opts: TestLayerOptions = {}): RecordingLayer {
  const calls: TileCoord[] = [];
  const format = opts.format ?? 'image/png';
  return {
    name,
    title: opts.title ?? `${name} title`,
    md: {},
    grid,
    format,
    extension: opts.extension ?? (format === 'mixed' ? 'png' : format.slice(format.indexOf('/') + 1)),
    bbox: grid.bbox,
    wgs84Bbox: opts.wgs84Bbox ?? [-180, -85.0511287798066, 180, 85.0511287798066],
    calls,
    async getTile(coord: TileCoord): Promise<TileResult> {
      calls.push(coord);
      if (opts.error !== undefined) throw opts.error;
      return {
        data: Buffer.from(coord.join(',')),
        mime: format === 'mixed' ? 'image/png' : format,
        mtime: TILE_MTIME,
        cacheable: opts.cacheable ?? true,
      };
    },
  };
}

/** A GET ServiceRequest for `path?query` at `baseUrl`. */
export function serviceRequest(path: string, query = '', baseUrl = 'http://127.0.0.1:8080'): ServiceRequest {
  const q: QueryParams = parseQuery(query);
  return { method: 'GET', path, query: q, headers: {}, baseUrl };
}

/** The body of a ServiceResponse as text. */
export function text(body: Buffer | string): string {
  return typeof body === 'string' ? body : body.toString('utf8');
}
