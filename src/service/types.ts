/**
 * Contracts between the app router and the services, and between services and the tile layers
 * they serve. A service parses and validates a request and answers a `ServiceResponse`; the app
 * writes it (CORS, Vary, cache headers, 304s) so every service gets the same HTTP behaviour.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Bbox, TileCoord, TileGrid } from '../grid/types.js';
import type { HeldFile, HeldTile, TileValidators } from '../cache/types.js';

/** KVP parameters with case-insensitive names (OGC); values keep their case. */
export interface QueryParams {
  /** The first value of `name` (case-insensitive). */
  get(name: string): string | undefined;
  /**
   * Every value of `name` joined with commas (`LAYER=a&LAYER=b`: `a,b`), as MapProxy's request
   * parameters read them; the single value when sent once.
   */
  joined(name: string): string | undefined;
  has(name: string): boolean;
  /** Names as sent, for pass-through of unknown parameters (dimensions). */
  keys(): string[];
}

/** A request as a service sees it, after proxy headers were applied. */
export interface ServiceRequest {
  readonly method: string;
  /** Path below the script name, percent-decoded, starting with `/` (`/tms/1.0.0/world/EPSG3857/0/0/0.png`). */
  readonly path: string;
  readonly query: QueryParams;
  readonly headers: IncomingHttpHeaders;
  /** `scheme://host` + script name, no trailing slash: the prefix of every URL in capabilities. */
  readonly baseUrl: string;
}

/** HTTP caching of a tile answer (REFERENCE.md §2.10). */
export interface TileCacheInfo {
  /** Tile timestamp, ms since the epoch. */
  readonly mtime: number;
  /** The stored file's time as Python's st_mtime, when known: the ETag is made from it. */
  readonly mtimeSec?: number;
  /** Size in bytes (ETag input). */
  readonly size: number;
  /** max-age in seconds (globals.tiles.expires_hours · 3600). */
  readonly maxAge: number;
  /** Where ETag and Last-Modified of this tile version are memoised (hits from memory). */
  readonly validators?: TileValidators;
}

/** What a service answers; the app turns it into HTTP. */
export interface ServiceResponse {
  readonly status: number;
  readonly contentType?: string;
  readonly body: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * `TileCacheInfo`: a cacheable tile (Last-Modified, ETag, Cache-Control; 304 on a matching
   * conditional request). `'no-cache'`: errors and non-cacheable results (Cache-Control: no-cache,
   * no-store; Pragma; Expires: -1). Undefined: no caching headers.
   */
  readonly cache?: TileCacheInfo | 'no-cache';
  /**
   * This answer may be given again, byte for byte, to the same request (same URL and proxy
   * headers, GET without conditions) while its tile version can be given: `held.isFresh()`, or
   * `file.read` gives bytes. `cache` names the cache whose hit it counts as. Set for tiles the
   * storage holds in memory or keeps open.
   */
  readonly replay?: { readonly held?: HeldTile; readonly file?: HeldFile; readonly cache?: string };
}

/** A service mounted by the router. */
export interface Service {
  readonly name: string;
  /** Answer a request routed to this service (null: not mine, the router answers 404). */
  handle(req: ServiceRequest): Promise<ServiceResponse | null>;
}

/** A tile as a tile service gets it from a layer. */
export interface TileResult {
  readonly data: Buffer;
  readonly mime: string;
  /** ms since the epoch: the stored tile's mtime, or the creation time of a fresh tile. */
  readonly mtime: number;
  /** The stored file's time as Python's st_mtime, when storage knows it (ETag input). */
  readonly mtimeSec?: number;
  /** False for on_error substitutes and other answers that must not be cached by clients. */
  readonly cacheable: boolean;
  /**
   * True when the tile was read from the cache storage (`X-Cache: HIT`); false or absent when it
   * was created for this request (`MISS`).
   */
  readonly fromCache?: boolean;
  /** The version held in memory by the cache storage, when it is (`StoredTile.held`). */
  readonly held?: HeldTile;
  /** The version's file kept open by the cache storage, when it is (`StoredTile.file`). */
  readonly file?: HeldFile;
  /** Name of the cache the tile came from. */
  readonly cache?: string;
}

/** Layer metadata used in capabilities. */
export interface LayerMetadata {
  readonly abstract?: string;
  readonly keywords?: readonly string[];
}

/**
 * One (layer, grid) pair offered by TMS, /tiles, WMTS and KML. Built from the config by
 * `config/build.ts`: a layer with exactly one cache among its sources, or with `tile_sources`.
 */
export interface TileLayer {
  /** Layer name as in the config. */
  readonly name: string;
  readonly title: string;
  readonly md: LayerMetadata;
  readonly grid: TileGrid;
  /** MIME type of the tiles (`image/png`), or `mixed`. */
  readonly format: string;
  /** File extension used in URLs (`png`, `jpeg`; `png` for mixed, MapProxy serves mixed as its real type). */
  readonly extension: string;
  /** The layer's extent in the grid's SRS. */
  readonly bbox: Bbox;
  /** The layer's extent in EPSG:4326, lon/lat order. */
  readonly wgs84Bbox: Bbox;
  /** Fetch (or create) a tile; `coord` is the grid's internal numbering. Rejects with MapProxyError. */
  getTile(coord: TileCoord): Promise<TileResult>;
}

/** Contact of a service (`md.contact` in the YAML), written into capabilities. */
export interface ServiceContact {
  readonly person?: string;
  readonly position?: string;
  readonly organization?: string;
  readonly address?: string;
  readonly city?: string;
  readonly postcode?: string;
  readonly state?: string;
  readonly country?: string;
  readonly phone?: string;
  readonly fax?: string;
  readonly email?: string;
}

/** One `md.keyword_list` entry. */
export interface KeywordList {
  readonly vocabulary?: string;
  readonly keywords: readonly string[];
}

/**
 * Service metadata (`services.<svc>.md`, falling back to `services.wms.md` as MapProxy does for
 * TMS, WMTS and KML); the config builder merges and passes it. Values are strings as written.
 */
export interface ServiceMetadata {
  readonly title?: string;
  readonly abstract?: string;
  readonly onlineResource?: string;
  readonly fees?: string;
  readonly accessConstraints?: string;
  readonly keywordList?: readonly KeywordList[];
  readonly contact?: ServiceContact;
}
