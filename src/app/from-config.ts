/**
 * Wiring of the services from built configuration: the tile layers and the `services:` options
 * become the TMS/tiles service, the WMTS bindings and the request listener. The shape accepted
 * here is the part of config/build.ts's `BuiltConfig` the app needs, so the two stay decoupled.
 */
import { createTmsService } from '../service/tms.js';
import { createWmtsService } from '../service/wmts.js';
import { toServiceMetadata } from '../service/metadata.js';
import type { Service, TileLayer } from '../service/types.js';
import { createHandler, type RequestHandler } from './router.js';
import { cacheDirsOf, type CacheDirsSource } from '../metrics/index.js';
import type { OperationalPaths } from './operational-paths.js';

/** How an app is built beyond its configuration (`createApp`, `buildApp`, `handlerFromConfig`). */
export interface AppBuildOptions {
  /** Unexpected errors answered with their stack trace (development only). */
  readonly debug?: boolean;
  /** Where `/healthz`, `/readyz` and `/metrics` answer (`false`: none of them); default those paths. */
  readonly observability?: OperationalPaths | false;
}

/** What `handlerFromConfig` reads (a structural subset of `BuiltConfig`). */
export interface AppServicesConfig {
  readonly tileLayers: readonly TileLayer[];
  readonly services: {
    readonly tms?: { readonly useGridNames: boolean; readonly origin?: 'sw' | 'nw'; readonly md: unknown };
    readonly wmts?: {
      readonly kvp: boolean;
      readonly restful: boolean;
      readonly restfulTemplate?: string;
      readonly md: unknown;
    };
  };
  readonly accessControlAllowOrigin: string;
  /** Send `X-Cache: HIT|MISS` on tiles (default true). */
  readonly xCacheHeader?: boolean;
  /** Cache-Control max-age of tiles, seconds. */
  readonly tileMaxAge: number;
  /** The built caches, for /readyz's writable-directory check. */
  readonly caches?: CacheDirsSource['caches'];
}

/**
 * Build every configured service and the request listener. Throws `ConfigError` for an invalid
 * `services.wmts.restful_template`.
 */
export function handlerFromConfig(conf: AppServicesConfig, opts: AppBuildOptions = {}): RequestHandler {
  const services: Record<string, Service> = {};
  const ows: Record<string, Service> = {};
  const { tms, wmts } = conf.services;
  if (tms) {
    services.tms = createTmsService({
      layers: conf.tileLayers,
      md: toServiceMetadata(tms.md),
      useGridNames: tms.useGridNames,
      origin: tms.origin,
      maxAge: conf.tileMaxAge,
      xCacheHeader: conf.xCacheHeader,
    });
  }
  if (wmts) {
    const built = createWmtsService({
      layers: conf.tileLayers,
      md: toServiceMetadata(wmts.md),
      kvp: wmts.kvp,
      restful: wmts.restful,
      restfulTemplate: wmts.restfulTemplate,
      maxAge: conf.tileMaxAge,
      xCacheHeader: conf.xCacheHeader,
    });
    if (built.rest) services.wmts = built.rest;
    if (built.kvp) ows.wmts = built.kvp;
  }
  return createHandler({
    services,
    ows,
    accessControlAllowOrigin: conf.accessControlAllowOrigin,
    // /readyz: 503 when a cache or lock directory cannot be written.
    observability: opts.observability === false ? false : { ...opts.observability, ...(conf.caches ? { writableDirs: cacheDirsOf({ caches: conf.caches }) } : {}) },
    debug: opts.debug,
  });
}
