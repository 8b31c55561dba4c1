/**
 * The WMTS 1.0.0 service (OGC 07-057r7): the KVP binding (GetCapabilities, GetTile, reached through
 * the OWS dispatcher at `/service` and `/ows`) and the RESTful binding below `/wmts`. One matrix
 * set per grid that can be read from the top-left origin (GLOBAL_GEODETIC cannot, and is left out
 * with a logged reason); TileRow counts from the top, so ll grids are flipped. Errors are OWS
 * ExceptionReports. REFERENCE.md §1.2 (WMTS KVP, WMTS REST) and §2.9.
 */
import { MapProxyError, RequestError, TileOutOfRangeError } from '../errors.js';
import type { TileGrid } from '../grid/types.js';
import { getLogger } from '../log/index.js';
import { invalidParameterError, missingParameterError, notFoundError, owsErrorResponse } from './exceptions.js';
import { Lru } from './lru.js';
import { DEFAULT_TILE_MAX_AGE, fromClientOrigin, invalidFormatMessage, parseInteger, tileResponse } from './tiles.js';
import type { QueryParams, Service, ServiceMetadata, ServiceRequest, ServiceResponse, TileLayer } from './types.js';
import { WmtsCapabilities, type WmtsLayer } from './wmts-capabilities.js';
import { DEFAULT_RESTFUL_TEMPLATE, groupName, parseRestTemplate } from './wmts-template.js';
import { quotePath } from './xml.js';

/** Options of `createWmtsService`. */
export interface WmtsServiceOptions {
  readonly layers: readonly TileLayer[];
  readonly md: ServiceMetadata;
  /** Offer the KVP binding (default true). */
  readonly kvp?: boolean;
  /** Offer the RESTful binding (default true). */
  readonly restful?: boolean;
  /** `services.wmts.restful_template` (default `/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}`). */
  readonly restfulTemplate?: string;
  /** Cache-Control max-age of tiles in seconds (default 72 h). */
  readonly maxAge?: number;
  /** Send `X-Cache: HIT|MISS` on tiles (default true; beyond MapProxy). */
  readonly xCacheHeader?: boolean;
}

/** The two bindings; each is absent when switched off. */
export interface WmtsServices {
  /** KVP: mount in the OWS dispatcher as `wmts`. */
  readonly kvp?: Service;
  /** RESTful: mount on the `/wmts` path segment. */
  readonly rest?: Service;
}

/** The RESTful capabilities path; nothing else ending like it is served (unlike MapProxy). */
export const RESTFUL_CAPABILITIES_PATH = '/wmts/1.0.0/WMTSCapabilities.xml';

const KVP_TILE_PARAMS = ['version', 'request', 'layer', 'style', 'tilematrixset', 'tilematrix', 'tilerow', 'tilecol'];

/** A GetTile after parsing, common to both bindings. */
interface TileQuery {
  readonly layer: string;
  readonly matrixSet: string;
  /** Format name without `image/` (`png`), undefined: the layer's own. */
  readonly format: string | undefined;
  readonly col: number;
  readonly row: number;
  readonly level: number;
}

/** Build the WMTS bindings for `layers` (grids that fail the top-left test are skipped and logged). */
export function createWmtsService(opts: WmtsServiceOptions): WmtsServices {
  const log = getLogger('mapproxy.service.wmts');
  const maxAge = opts.maxAge ?? DEFAULT_TILE_MAX_AGE;
  const xCache = opts.xCacheHeader !== false;
  const layers = new Map<string, { name: string; first: TileLayer; grids: Map<string, TileLayer> }>();
  const grids = new Map<string, TileGrid>();
  for (const layer of opts.layers) {
    const grid = layer.grid;
    if (!grid.supportsAccessWithOrigin('ul')) {
      log.warn(
        { layer: layer.name, grid: grid.name },
        `skipping layer '${layer.name}' for WMTS: grid '${grid.name}' cannot be addressed from a top-left origin ` +
          '(its tile rows do not end on the grid bbox at every level)',
      );
      continue;
    }
    if (!grids.has(grid.name)) grids.set(grid.name, grid);
    let entry = layers.get(layer.name);
    if (!entry) {
      entry = { name: layer.name, first: layer, grids: new Map() };
      layers.set(layer.name, entry);
    }
    entry.grids.set(grid.name, layer);
  }
  const wmtsLayers: ReadonlyMap<string, WmtsLayer> = layers;

  const getTile = async (q: TileQuery): Promise<ServiceResponse> => {
    const layer = wmtsLayers.get(q.layer);
    if (!layer) throw invalidParameterError(`unknown layer: ${q.layer}`, 'layer');
    const tileLayer = layer.grids.get(q.matrixSet);
    if (!tileLayer) throw invalidParameterError(`unknown tilematrixset: ${q.matrixSet}`, 'tilematrixset');
    if (q.format !== undefined && q.format !== tileLayer.extension) {
      throw invalidParameterError(invalidFormatMessage(q.format, tileLayer), 'format');
    }
    const coord = q.level < 0 ? null : tileLayer.grid.limitTile([q.col, q.row, q.level]);
    if (!coord) throw new TileOutOfRangeError();
    const result = await tileLayer.getTile(fromClientOrigin(tileLayer, coord, 'nw'));
    return tileResponse(result, maxAge, xCache);
  };

  const guarded =
    (route: (req: ServiceRequest) => Promise<ServiceResponse | null>): Service['handle'] =>
    async (req) => {
      try {
        return await route(req);
      } catch (err) {
        // Foreign errors are bugs: the router logs them and answers 500 "internal error".
        if (!(err instanceof MapProxyError)) throw err;
        return owsErrorResponse(err);
      }
    };

  const capabilitiesResponse = (docs: Lru<string>, caps: WmtsCapabilities, url: string): ServiceResponse => {
    let body = docs.get(url);
    if (body === undefined) {
      body = caps.render(url);
      docs.set(url, body);
    }
    return { status: 200, contentType: 'application/xml', body };
  };

  let kvp: Service | undefined;
  if (opts.kvp !== false) {
    const caps = new WmtsCapabilities(opts.md, wmtsLayers.values(), grids.values());
    const docs = new Lru<string>(16);
    kvp = {
      name: 'wmts',
      handle: guarded(async (req) => {
        const q = req.query;
        const request = q.get('request');
        if (request === undefined) throw missingParameterError("missing parameters ['request']", 'request');
        const type = request.toLowerCase();
        if (type === 'getcapabilities') {
          return capabilitiesResponse(docs, caps, req.baseUrl + quotePath(req.path));
        }
        if (type === 'gettile') return getTile(kvpTileQuery(q));
        if (type === 'getfeatureinfo') {
          const t = kvpTileQuery(q);
          if (!wmtsLayers.has(t.layer)) throw invalidParameterError(`unknown layer: ${t.layer}`, 'layer');
          throw new RequestError(`layer ${t.layer} not queryable`, {
            status: 501,
            ogcCode: 'OperationNotSupported',
            code: 'MPX_ERR_NOT_QUERYABLE',
          });
        }
        throw invalidParameterError(`unknown WMTS request type '${request}'`, 'request');
      }),
    };
  }

  let rest: Service | undefined;
  if (opts.restful !== false) {
    const template = parseRestTemplate(opts.restfulTemplate ?? DEFAULT_RESTFUL_TEMPLATE);
    const caps = new WmtsCapabilities(opts.md, wmtsLayers.values(), grids.values(), template.template);
    const docs = new Lru<string>(16);
    rest = {
      name: 'wmts',
      handle: guarded(async (req) => {
        const path = req.path;
        if (path === RESTFUL_CAPABILITIES_PATH) return capabilitiesResponse(docs, caps, `${req.baseUrl}/wmts`);
        const m = template.pattern.exec(path);
        if (!m?.groups) {
          if (path === '/wmts' || path.startsWith('/wmts/')) throw notFoundError(`invalid request (${path})`);
          return null;
        }
        const g = m.groups;
        // Layers have no dimensions: only the value `default` is accepted (MapProxy: same check).
        for (const dim of template.dimensions) {
          if (g[groupName(dim.toLowerCase())] !== 'default') {
            throw invalidParameterError(`unknown dimension: ${dim.toLowerCase()}`, dim);
          }
        }
        return getTile({
          layer: g.Layer,
          matrixSet: g.TileMatrixSet,
          format: g.Format,
          col: Number(g.TileCol),
          row: Number(g.TileRow),
          level: Number(g.TileMatrix),
        });
      }),
    };
  }
  return { kvp, rest };
}

/**
 * Read and check a KVP GetTile (any STYLE is accepted; a missing FORMAT means the layer's). A
 * parameter sent twice counts with both values, joined by a comma, so `LAYER=a&LAYER=b` is the
 * unknown layer `a,b` (MapProxy; where it fails with a 500 on `TILEROW=0&TILEROW=1`, this is the
 * 400 of any other row that is not an integer). REQUEST and FORMAT take their first value, as there.
 */
function kvpTileQuery(q: QueryParams): TileQuery {
  const missing = KVP_TILE_PARAMS.filter((p) => !q.has(p));
  if (missing.length > 0) {
    throw missingParameterError(`missing parameters [${missing.map((p) => `'${p}'`).join(', ')}]`, missing[0]);
  }
  const int = (name: string): number => {
    const raw = q.joined(name) as string;
    const n = parseInteger(raw);
    if (Number.isNaN(n)) throw invalidParameterError(`invalid value for ${name}: '${raw}' is not an integer`, name);
    return n;
  };
  const level = int('tilematrix');
  const row = int('tilerow');
  const col = int('tilecol');
  // FORMAT is the exception: MapProxy reads it with params.get, its first value.
  const format = q.get('format');
  return {
    layer: q.joined('layer') as string,
    matrixSet: q.joined('tilematrixset') as string,
    format: format === undefined || format === '' ? undefined : formatName(format),
    col,
    row,
    level,
  };
}

/** `image/png; mode=8bit` → `png`, `png` → `png` (MapProxy's split_mime_type). */
function formatName(mime: string): string {
  const slash = mime.indexOf('/');
  const sub = slash >= 0 ? mime.slice(slash + 1) : mime;
  const semi = sub.indexOf(';');
  return (semi >= 0 ? sub.slice(0, semi) : sub).trim();
}
