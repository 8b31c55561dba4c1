/**
 * The TMS 1.0.0 service (`/tms`) and MapProxy's `/tiles` variant: routing of the anchored paths,
 * layer lookup (`<layer>_<SRS>` keys with the EPSG900913 / EPSG4326 fallback, or
 * `use_grid_names`), public → internal tile numbering (level skipping of the global profiles on
 * `/tms`, south-west y on `/tms`, `?origin=` on `/tiles`) and the capabilities documents.
 * REFERENCE.md §1.2 (TMS, /tiles) and §2.8.
 */
import { MapProxyError, RequestError, TileOutOfRangeError } from '../errors.js';
import { invalidFormatMessage, DEFAULT_TILE_MAX_AGE, fromClientOrigin, tileResponse } from './tiles.js';
import { notFoundError, plainErrorResponse, TMS_XML_CONTENT_TYPE, tmsErrorResponse } from './exceptions.js';
import { Lru } from './lru.js';
import {
  internalCoord,
  rootResourceXml,
  tileMapServiceXml,
  tileMapXml,
  tmsLayer,
  type TmsLayer,
} from './tms-capabilities.js';
import type { Service, ServiceMetadata, ServiceRequest, ServiceResponse, TileLayer } from './types.js';
import { quotePath } from './xml.js';

/** Options of `createTmsService`. */
export interface TmsServiceOptions {
  /** Every (layer, grid) pair offered; later pairs with the same key replace earlier ones. */
  readonly layers: readonly TileLayer[];
  readonly md: ServiceMetadata;
  /** `services.tms.use_grid_names`: address layers as `<layer>/<grid name>`, no fallback. */
  readonly useGridNames?: boolean;
  /** `services.tms.origin`: row numbering of `/tiles` when the request has no `?origin=`. */
  readonly origin?: 'sw' | 'nw';
  /** Cache-Control max-age of tiles in seconds (default 72 h). */
  readonly maxAge?: number;
  /** Send `X-Cache: HIT|MISS` on tiles (default true; beyond MapProxy). */
  readonly xCacheHeader?: boolean;
}

// MapProxy's tile path: an optional version, the layer, an optional grid/SRS part, z/x/y.ext.
const TILE_PATH = /^\/(tms|tiles)\/(?:1\.0\.0\/)?([^/]+)\/(?:([^/]+)\/)?(-?\d+)\/(-?\d+)\/(-?\d+)\.(\w+)$/;
const CAPABILITIES_PATH = /^\/tms\/1\.0\.0(?:\/([^/]+)(?:\/([^/]+))?|\/)?$/;
const ROOT_PATH = /^\/tms\/?$/;

/**
 * The tile server: one `Service` answering `/tms/…` (TMS errors as `TileMapServerError`) and
 * `/tiles/…` (plain-text errors). Mount it on both path segments.
 */
export function createTmsService(opts: TmsServiceOptions): Service {
  const useGridNames = opts.useGridNames === true;
  const maxAge = opts.maxAge ?? DEFAULT_TILE_MAX_AGE;
  const xCache = opts.xCacheHeader !== false;
  const md = opts.md;
  const byKey = new Map<string, TmsLayer>();
  for (const layer of opts.layers) {
    const view = tmsLayer(layer, useGridNames);
    byKey.set(keyOf(useGridNames, view.namePath[0], view.namePath[1]), view);
  }
  const documents = new Lru<string>(32);

  const lookup = (name: string, spec: string | undefined): TmsLayer => {
    const view = findLayer(byKey, useGridNames, name, spec);
    if (!view) throw new RequestError(`unknown layer: ${name}`, { status: 404, code: 'MPX_ERR_UNKNOWN_LAYER' });
    return view;
  };

  const cachedDocument = (key: string, render: () => string): ServiceResponse => {
    let body = documents.get(key);
    if (body === undefined) {
      body = render();
      documents.set(key, body);
    }
    return { status: 200, contentType: TMS_XML_CONTENT_TYPE, body };
  };

  const tile = async (req: ServiceRequest, m: RegExpExecArray): Promise<ServiceResponse> => {
    const isTms = m[1] === 'tms';
    // MapProxy: /tms always counts rows from the south; /tiles takes ?origin=, then the service's.
    let origin: 'sw' | 'nw' | undefined = 'sw';
    if (!isTms) {
      const asked = req.query.get('origin');
      origin = asked === 'sw' || asked === 'nw' ? asked : opts.origin;
    }
    const view = lookup(m[2], m[3]);
    const format = m[7];
    if (format !== view.layer.extension) {
      throw new RequestError(invalidFormatMessage(format, view.layer), {
        status: 404,
        ogcCode: 'InvalidParameterValue',
        code: 'MPX_ERR_INVALID_FORMAT',
      });
    }
    const coord = internalCoord(view, [Number(m[5]), Number(m[6]), Number(m[4])], isTms);
    if (!coord) throw new TileOutOfRangeError();
    const result = await view.layer.getTile(fromClientOrigin(view.layer, coord, origin));
    return tileResponse(result, maxAge, xCache);
  };

  const route = async (req: ServiceRequest): Promise<ServiceResponse | null> => {
    const path = req.path;
    // Tiles first (the hot path); no tile path is also a capabilities path.
    const m = TILE_PATH.exec(path);
    if (m) return tile(req, m);
    if (path.startsWith('/tms')) {
      const cap = CAPABILITIES_PATH.exec(path);
      if (cap) {
        const url = req.baseUrl + quotePath(path);
        if (cap[1] === undefined) return cachedDocument(url, () => tileMapServiceXml(md, byKey.values(), url));
        const view = lookup(cap[1], cap[2]);
        return cachedDocument(url, () => tileMapXml(view, url));
      }
      if (ROOT_PATH.test(path)) {
        const url = req.baseUrl + quotePath(path);
        return cachedDocument(url, () => rootResourceXml(md, url));
      }
    }
    if (path.startsWith('/tms/') || path === '/tms' || path.startsWith('/tiles/') || path === '/tiles') {
      throw notFoundError(`invalid request (${path})`);
    }
    return null;
  };

  return {
    name: 'tms',
    async handle(req: ServiceRequest): Promise<ServiceResponse | null> {
      try {
        return await route(req);
      } catch (err) {
        // Foreign errors are bugs: the router logs them and answers 500 "internal error".
        if (!(err instanceof MapProxyError)) throw err;
        return req.path.startsWith('/tiles') ? plainErrorResponse(err) : tmsErrorResponse(err);
      }
    },
  };
}

function keyOf(useGridNames: boolean, name: string, second: string): string {
  // With grid names MapProxy keys by the (layer, grid) pair; a NUL keeps the pair unambiguous.
  return useGridNames ? `${name}\u0000${second}` : `${name}_${second}`;
}

/**
 * MapProxy's lookup: with grid names only the exact (layer, grid) pair; otherwise `<layer>[_<spec>]`,
 * then the same with `_EPSG900913`, then `_EPSG4326` (there is no EPSG3857 fallback).
 */
function findLayer(
  byKey: ReadonlyMap<string, TmsLayer>,
  useGridNames: boolean,
  name: string,
  spec: string | undefined,
): TmsLayer | undefined {
  if (useGridNames) return spec === undefined ? undefined : byKey.get(keyOf(true, name, spec));
  const base = spec === undefined ? name : `${name}_${spec}`;
  return byKey.get(base) ?? byKey.get(`${base}_EPSG900913`) ?? byKey.get(`${base}_EPSG4326`);
}
